"""Deployment of a trained model: SavedModels for TF Serving (`savedmodel`), TFLite in four
quantizations and ONNX (`artifacts`, `tflite`), TFMOT's quantization-aware training, pruning
and clustering (`optimize`, run under tf-keras), all from what `deployable` reads beside the
weights; `commands` is the command line's export, optimize and evaluate-tflite."""
