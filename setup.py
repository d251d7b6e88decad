from setuptools import find_packages, setup

setup(
    name="keras-backbones",
    version="0.1.0",
    description="Every image-classification backbone, in Keras/TensorFlow, equal to its reference",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["keras_backbones", "keras_backbones.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.10,<4",
        "tf-keras>=2.21,<2.22",  # Keras 2, for TFMOT: same minor as TensorFlow
        "tensorflow-model-optimization>=0.8,<0.9",
        "keras-cv>=0.9,<0.10",
        "absl-py>=1.4",
        "ml-collections>=0.1.1",
        "numpy>=1.26",
        "safetensors>=0.4",  # reading .safetensors checkpoints, with NumPy
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "scikit-learn>=1.4",
            "ai-edge-litert>=1.2",
        ],
        "parity": [
            "torch==2.14.1",
            "torchvision==0.29.1",
            "timm>=1.0",
        ],
    },
    entry_points={"console_scripts": ["keras-backbones=keras_backbones.cli:run"]},
)
