"""Pictures and numbers of a run: the loss and accuracy curves, top-k accuracy and the
confusion matrix of an evaluation (matplotlib, Agg backend: no display needed)."""

import numpy as np

from keras_backbones import files


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, figure, path):
    """Writes `figure` to `path` as a PNG (`files.write_atomic`: whole, readable, a full
    disk one clear error) and frees it."""
    try:
        return files.write_atomic(path, lambda f: figure.savefig(f, format="png", dpi=100))
    finally:
        plt.close(figure)


def plot_history(history, path, title=""):
    """Loss and accuracy per epoch, training and validation, side by side, as a PNG."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [e + 1 for e in history.get("epoch", [])]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for key, label in ((metric, "train"), (f"val_{metric}", "validation")):
            values = history.get(key)
            if values and any(v is not None for v in values):
                axis.plot(epochs, values, marker=".", label=label)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(metric if metric == "loss" else "top-1 accuracy")
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _save(plt, figure, path)


def top_k_accuracy(labels, probabilities, k):
    """Share of examples whose label is among the k highest scores."""
    k = min(k, probabilities.shape[-1])
    top = np.argsort(-probabilities, axis=-1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=-1)))


def confusion_matrix(labels, predictions, num_classes):
    """[true class, predicted class] counts."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def plot_confusion_matrix(matrix, path, class_names=None, title=""):
    """The confusion matrix as a PNG: counts written in the cells of small matrices."""
    plt = _pyplot()
    classes = matrix.shape[0]
    size = min(4 + 0.35 * classes, 30)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046)
    if classes <= 30:
        names = list(class_names) if class_names else [str(i) for i in range(classes)]
        axis.set_xticks(range(classes), labels=names, rotation=90 if classes > 10 else 0)
        axis.set_yticks(range(classes), labels=names)
        threshold = matrix.max() / 2 if matrix.size else 0
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                axis.text(col, row, str(count), ha="center", va="center", fontsize=8,
                          color="white" if count > threshold else "black")
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title or "confusion matrix")
    figure.tight_layout()
    return _save(plt, figure, path)
