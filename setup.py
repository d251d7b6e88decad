from setuptools import find_packages, setup

setup(
    name="keras-backbones",
    version="0.1.0",
    description="Every image-classification backbone, in Keras/TensorFlow, equal to its reference",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["keras_backbones", "keras_backbones.*"]),
    # The table of published checkpoints and the ImageNet class names.
    package_data={"keras_backbones.pretrained": ["*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10,<4",
        "tf-keras>=2.21,<2.22",  # Keras 2, for TFMOT: same minor as TensorFlow
        "tensorflow-model-optimization>=0.8,<0.9",
        "keras-cv>=0.9,<0.10",
        "absl-py>=1.4",
        "ml-collections>=1.0",  # config_flags(accept_new_attributes=...)
        "numpy>=1.26",
        "safetensors>=0.4",  # reading .safetensors checkpoints, with NumPy
        "tqdm>=4.60",  # the progress bar of weight downloads
        "pillow>=10",  # images for predict, decoded and resized as the references' transforms
        "scikit-learn>=1.4",  # the bundled digits: the main job's data
        "matplotlib>=3.7",  # training curves and confusion matrices (PNG)
        "tensorboard>=2.16",  # TensorFlow no longer pulls it in; the TensorBoard callback needs it
        "ai-edge-litert>=1.2",  # LiteRT: runs and evaluates the TFLite artifacts
        "tensorflow-serving-api>=2.21,<2.22",  # PredictionLog protos of the warmup file
        "tf2onnx>=1.17",  # --format onnx
        "onnxruntime>=1.20",  # checks each ONNX file against the Keras model
        "gco-wrapper>=3.0.9",  # PuzzleMix's graph cut (alpha-beta swap), as the authors'
    ],
    extras_require={
        "test": [
            # pytest 9.2 keeps node ids where pytest-xdist 3.8 can no longer add the group of
            # --dist loadgroup: every xdist_group mark would be ignored (tests/conftest.py checks).
            "pytest>=8,<9.2",
            "pytest-xdist>=3.5",
            "tensorflow-datasets>=4.9",  # the TFDS source (tests prepare a tiny local dataset)
        ],
        # The documentation site (keras-backbones docs) and its browser check (selenium drives
        # Debian's chromium through chromedriver; tests/docs).
        "docs": [
            "mkdocs>=1.6,<2",
            "mkdocs-material>=9.5",
            "mkdocstrings-python>=1.10",
            "mkdocs-gen-files>=0.5",
            "mkdocs-literate-nav>=0.6",
            "selenium>=4.20",
        ],
        "parity": [
            "torch==2.14.1",
            "torchvision==0.29.1",
            "timm==1.0.31",  # the version the checkpoint table was generated from
        ],
    },
    entry_points={"console_scripts": ["keras-backbones=keras_backbones.cli:run"]},
)
