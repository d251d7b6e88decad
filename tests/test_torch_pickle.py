"""keras_backbones.torch_pickle reads torch.save's files without torch: what it returns equals
torch.load(weights_only=True)'s result, every array bit for bit, in both of torch.save's formats
(torch writes the files and reads them in a child process: torch and TensorFlow crash in one);
what a weights-only load refuses is refused by name, and a file that is not a whole checkpoint is
a ValueError, not a traceback from inside pickle."""

import argparse
import collections
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from keras_backbones import torch_pickle
from tests import support

# Writes each checkpoint with torch.save in both formats, and what torch.load(weights_only=True)
# returns from each file: the structure as JSON, the tensors' bytes as .npz (keyed by path).
TORCH_CHILD = textwrap.dedent(r'''
    import json, pathlib, sys, zipfile
    import numpy as np, torch, torchvision

    out = pathlib.Path(sys.argv[1])
    torch.manual_seed(0)

    def checkpoints():
        yield "resnet18", torchvision.models.resnet18().state_dict()

        dtypes = {str(dtype).removeprefix("torch."): (torch.randn(3, 4) * 50).to(dtype)
                  for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16,
                                torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
                                torch.bool, torch.complex64, torch.complex128, torch.uint16,
                                torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e5m2)}
        complex_ = torch.randn(2, 3, dtype=torch.complex64)
        yield "dtypes", {**dtypes, "conjugate": complex_.conj(), "negative": complex_._neg_view()}

        base = torch.arange(60.0).reshape(5, 12)
        tagged = torch.ones(2)
        tagged.note = "a tensor with a Python attribute"
        yield "views", {  # one storage for most: a view and its base in one file
            "base": base, "transposed": base.t(), "rows": base[1:4], "strided": base[::2, 1::3],
            "row": base[2], "element": base[3, 4], "same": base, "list": [base[0], base[-1]],
            "tuple": (base.t()[2:], 7), "expanded": torch.arange(3.0).reshape(3, 1).expand(3, 4),
            "scalar": torch.tensor(2.5), "empty": torch.empty(0, 3),
            "empty_long": torch.zeros(2, 0, dtype=torch.long), "tagged": tagged}

        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                    torch.nn.Flatten(), torch.nn.LazyLinear(5))
        model(torch.randn(2, 3, 8, 8))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model(torch.randn(2, 3, 8, 8)).sum().backward()
        optimizer.step()
        yield "training", {
            "state_dict": model.state_dict(), "epoch": 3, "optimizer": optimizer.state_dict(),
            "best_acc1": torch.tensor(71.5), "arch": "resnet18", "lr": 0.1, "ids": {1, 2, 3},
            "blob": b"\x00\xffbytes", "buffer": bytearray(b"ab"),
            "pair": (1, None), "complex": 1 + 2j, "big": 2 ** 70, "negative": -5, "flag": True,
            "size": torch.Size([2, 3]), "nested": {"a": [1, 2.5, "x"]}}

        parameters = dict(model.named_parameters())
        parameters["0.weight"].note = "a parameter with a Python attribute"
        yield "parameters", parameters

        # Only 4-byte elements: rewritten below as a big-endian machine saves it.
        yield "big_endian", {"weight": torch.randn(3, 5),
                             "index": torch.arange(4, dtype=torch.int32)}

    def big_endian(path):
        """The zip file as torch.save writes it on a big-endian machine."""
        with zipfile.ZipFile(path) as source:
            records = [(info, source.read(info)) for info in source.infolist()]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
            for info, data in records:
                if info.filename.endswith("/byteorder"):
                    data = b"big"
                elif "/data/" in info.filename:
                    data = np.frombuffer(data, "<u4").astype(">u4").tobytes()
                target.writestr(info.filename, data)

    def describe(obj, path, leaves, arrays):
        if isinstance(obj, torch.Tensor):
            tensor = obj.detach().resolve_conj().resolve_neg().contiguous()
            leaves[path] = ["array", str(tensor.dtype).removeprefix("torch."), list(tensor.shape)]
            arrays[path] = tensor.reshape(-1).view(torch.uint8).numpy()
        elif isinstance(obj, dict):
            leaves[path] = [type(obj).__name__, [repr(key) for key in obj]]
            for key, value in obj.items():
                describe(value, f"{path}/{key!r}", leaves, arrays)
        elif isinstance(obj, (list, tuple)):
            leaves[path] = ["tuple" if isinstance(obj, tuple) else "list", len(obj)]
            for index, value in enumerate(obj):
                describe(value, f"{path}/{index}", leaves, arrays)
        else:
            leaves[path] = [type(obj).__name__, repr(obj)]

    for name, checkpoint in checkpoints():
        for format in ("zip", "legacy"):
            if name == "big_endian" and format == "legacy":
                continue  # torch writes the legacy format little-endian on any machine
            path = out / f"{name}-{format}.pth"
            torch.save(checkpoint, path, _use_new_zipfile_serialization=format == "zip")
            if name == "big_endian":
                big_endian(path)
            # torch.load cannot read back the legacy files of dtypes without a storage class
            # (uint16, float8, ...: "UntypedStorage has no attribute dtype"): what it saved is
            # what it reads from the zip file.
            reference = out / f"{name}-zip.pth" if name == "dtypes" else path
            leaves, arrays = {}, {}
            describe(torch.load(reference, map_location="cpu", weights_only=True), "$", leaves,
                     arrays)
            (out / f"{name}-{format}.json").write_text(json.dumps(leaves))
            np.savez(out / f"{name}-{format}.npz", **arrays)
''')

FILES = [f"{name}-{format}" for name in ("resnet18", "dtypes", "views", "training", "parameters")
         for format in ("zip", "legacy")] + ["big_endian-zip"]


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("torch_files")
    done = subprocess.run([sys.executable, "-c", TORCH_CHILD, str(out)], cwd=support.ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def describe(obj, path="$", leaves=None, arrays=None):
    """What the child records of torch's result, of ours: {path: [type, ...]}, {path: bytes}."""
    leaves = {} if leaves is None else leaves
    arrays = {} if arrays is None else arrays
    if isinstance(obj, np.ndarray):
        leaves[path] = ["array", obj.dtype.name, list(obj.shape)]
        arrays[path] = np.ascontiguousarray(obj).reshape(-1).view(np.uint8)
    elif isinstance(obj, dict):
        leaves[path] = [type(obj).__name__, [repr(key) for key in obj]]
        for key, value in obj.items():
            describe(value, f"{path}/{key!r}", leaves, arrays)
    elif isinstance(obj, (list, tuple)):
        leaves[path] = [type(obj).__name__, len(obj)]
        for index, value in enumerate(obj):
            describe(value, f"{path}/{index}", leaves, arrays)
    else:
        leaves[path] = [type(obj).__name__, repr(obj)]
    return leaves, arrays


@support.needs_torch("torch.save writes the files, torch.load says what they hold")
@pytest.mark.parametrize("name", FILES)
def test_reads_what_torch_load_reads(torch_files, name):
    leaves, arrays = describe(torch_pickle.load(torch_files / f"{name}.pth"))
    assert leaves == json.loads((torch_files / f"{name}.json").read_text())
    with np.load(torch_files / f"{name}.npz") as expected:
        assert sorted(arrays) == sorted(expected.files)
        for path, data in arrays.items():
            np.testing.assert_array_equal(data, expected[path], err_msg=path)  # bit for bit
    if name.startswith("resnet18"):
        assert len(arrays) == 122 and leaves["$"][0] == "OrderedDict"


@support.needs_torch("torch.save writes the files")
def test_arrays_are_writeable_and_independent_of_each_other(torch_files):
    state = torch_pickle.load(torch_files / "views-zip.pth")
    assert state["same"] is state["base"]  # one tensor saved twice is one array
    assert not np.shares_memory(state["base"], state["rows"])
    state["base"][0, 0] = -1  # writeable, and no view of another
    assert state["rows"][0, 0] == 12 and state["transposed"].flags.c_contiguous


@support.needs_torch("torch.save writes the files")
@pytest.mark.parametrize("name", ["resnet18-zip", "resnet18-legacy"])
@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.999])
def test_truncated_file_is_refused(torch_files, tmp_path, name, fraction):
    data = (torch_files / f"{name}.pth").read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ValueError, match="truncated|corrupt") as error:
        torch_pickle.load(path)
    assert str(path) in str(error.value)


# --- without torch: files written here, torch.save's layout by hand -------------------------

class Global:
    """A global of the file (pickled as protocol 2's GLOBAL opcode), callable in a reduce."""

    def __init__(self, qualified):
        self.module, self.name = qualified.rsplit(".", 1)

    def __call__(self, *args):
        raise AssertionError("written, never called")


class Reduce:
    """Pickled as `func(*args)`."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class Storage:
    """Pickled as torch.save's persistent id of storage `key` (in the legacy format, of its
    `view`: (key, element offset, element count) as torch < 0.4 wrote them)."""

    def __init__(self, storage_type, key, numel, view=None):
        self.pid = ("storage", Global(storage_type), key, "cpu", numel)
        self.view = view


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler: its save() can be extended
    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return obj.pid + (obj.view,) if self.legacy else obj.pid
        return None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        else:
            super().save(obj, save_persistent_id)


def tensor(storage, offset, size, stride):
    return Reduce(Global("torch._utils._rebuild_tensor_v2"), storage, offset, size, stride,
                  False, collections.OrderedDict())


def write(path, obj, storages=None, legacy=False):
    """`obj` saved as torch.save would: `storages` {key: bytes of float32 elements}."""
    pickled = io.BytesIO()
    _TorchPickler(pickled, legacy).dump(obj)
    storages = storages or {}
    if legacy:
        with open(path, "wb") as file:
            for header in (torch_pickle.LEGACY_MAGIC_NUMBER, torch_pickle.LEGACY_PROTOCOL_VERSION,
                           {"little_endian": True}):
                pickle.dump(header, file, protocol=2)
            file.write(pickled.getvalue())
            pickle.dump(sorted(storages), file, protocol=2)
            for key in sorted(storages):
                file.write(np.int64(len(storages[key]) // 4).tobytes() + storages[key])
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", pickled.getvalue())
            archive.writestr("archive/byteorder", "little")
            for key, data in storages.items():
                archive.writestr(f"archive/data/{key}", data)
    return path


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_hand_written_checkpoint_reads(tmp_path, legacy):
    """The layout written here is the one the torch tests above check against torch itself."""
    values = np.arange(12, dtype=np.float32)
    storage = Storage("torch.FloatStorage", "0", 12)
    # frozenset: read here, though torch's weights-only load refuses it
    state = collections.OrderedDict(weight=tensor(storage, 2, (2, 3), (1, 2)), epoch=3,
                                    tags=frozenset({"a"}))
    loaded = torch_pickle.load(write(tmp_path / "w.pth", state, {"0": values.tobytes()}, legacy))
    np.testing.assert_array_equal(loaded["weight"], values[2:8].reshape(3, 2).T)
    assert loaded["epoch"] == 3 and loaded["tags"] == {"a"}
    assert type(loaded) is collections.OrderedDict


def test_a_legacy_storage_view_reads(tmp_path):
    values = np.arange(12, dtype=np.float32)
    view = Storage("torch.FloatStorage", "0", 12, view=("1", 2, 6))  # elements 2..7
    path = write(tmp_path / "w.pth", {"w": tensor(view, 1, (5,), (1,))}, {"0": values.tobytes()},
                 legacy=True)
    np.testing.assert_array_equal(torch_pickle.load(path)["w"], values[3:8])


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_code_in_the_file_is_refused_not_run(tmp_path, legacy):
    marker = tmp_path / "ran"
    path = write(tmp_path / "evil.pth", {"state_dict": RunsCommand(marker)}, legacy=legacy)
    with pytest.raises(ValueError, match=rf"holds {os.system.__module__}\.system, which a "
                                         "weights-only load refuses"):
        torch_pickle.load(path)
    assert not marker.exists()


def test_a_training_checkpoint_with_other_objects_is_refused_naming_them(tmp_path):
    path = write(tmp_path / "train.pth.tar", {"args": argparse.Namespace(lr=0.1), "epoch": 3})
    with pytest.raises(ValueError, match=r"holds argparse\.Namespace, .*torch\.load\(weights_only"):
        torch_pickle.load(path)


def test_the_file_cannot_set_attributes_of_what_it_names(tmp_path):
    """Pickle's BUILD sets attributes of any object: here of the class collections.Counter,
    which would outlive the load (the one object it may set them on is an OrderedDict)."""
    build = (pickle.PROTO + b"\x02" + pickle.GLOBAL + b"collections\nCounter\n" + pickle.NONE
             + pickle.EMPTY_DICT + pickle.MARK + pickle.BINUNICODE + b"\x04\x00\x00\x00keys"
             + pickle.NONE + pickle.SETITEMS + pickle.TUPLE2 + pickle.BUILD + pickle.STOP)
    path = tmp_path / "w.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", build)
    with pytest.raises(ValueError, match="sets attributes of a type, which a weights-only load"):
        torch_pickle.load(path)
    assert collections.Counter.keys is dict.keys


@pytest.mark.parametrize("storage_type, message", [
    ("torch.QInt8Storage", r"storage of type torch\.QInt8Storage, which this reader does not know"),
    ("torch.FloatStorage", r"reaches past its storage of 12 elements"),
])
def test_unknown_storage_and_a_tensor_past_its_storage_are_refused(tmp_path, storage_type,
                                                                   message):
    storage = Storage(storage_type, "0", 12)
    path = write(tmp_path / "w.pth", {"w": tensor(storage, 4, (3, 3), (3, 1))},
                 {"0": np.zeros(12, np.float32).tobytes()})
    with pytest.raises(ValueError, match=message):
        torch_pickle.load(path)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (bytes(range(256)) * 8, "not a PyTorch checkpoint: it starts with"),
    (b"conv1.weight 0.1 0.2\n", "not a PyTorch checkpoint"),
    (pickle.dumps({"w": [1.0]}, protocol=2), "no torch.save magic number"),
    (b"\x80\x02garbage", "truncated or corrupt"),
    (b"PK\x03\x04" + bytes(100), "truncated or corrupt zip archive"),
])
def test_a_file_that_is_no_checkpoint_is_refused(tmp_path, content, message):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        torch_pickle.load(path)


def test_a_zip_that_is_no_checkpoint_is_refused(tmp_path):
    np.savez(tmp_path / "weights.npz", w=np.zeros(3))
    with pytest.raises(ValueError, match=r"zip archive but not a torch\.save checkpoint"):
        torch_pickle.load(tmp_path / "weights.npz")
