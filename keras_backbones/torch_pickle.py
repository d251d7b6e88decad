"""PyTorch checkpoints (.pth, .pth.tar, .pt) read with NumPy alone: `load(path)` returns what
`torch.load(path, map_location="cpu", weights_only=True)` returns, each tensor a NumPy array.

torch.save writes one of two formats, and published checkpoints come in both:
- the zip archive (torch >= 1.6): `<archive>/data.pkl`, the object, and one uncompressed record
  `<archive>/data/<key>` of raw bytes per storage, in the byte order `<archive>/byteorder` names;
- the legacy stream (torch < 1.6, or `_use_new_zipfile_serialization=False`): pickles of a magic
  number, the format's version, the saver's system and the object, the list of storage keys,
  then each storage as its element count (8 bytes) and its little-endian bytes.
Either way the object's pickle names storages by persistent id ("storage", storage type, key,
location, element count[, view]) and builds tensors by calling `torch._utils._rebuild_tensor_v2
(storage, offset, size, stride, ...)`: here a stand-in records the call, and once every storage's
bytes are located (a zip record, or past the end of the legacy stream's pickles) each tensor
becomes an array of its shape and dtype, read through its strides.

The unpickler is restricted as torch's weights-only one: a global resolves only if a state dict
or a training checkpoint needs it (tensor rebuilds, storage types, dtypes, OrderedDict, set,
...), each to a stand-in defined here; any other (argparse.Namespace, os.system) is refused by
name, so no code of the file runs. Each storage is read once, when its first tensor is made; a
tensor that is its whole storage (most of a state dict's) becomes an array over that buffer, so a
load holds about the file's size in memory, as torch.load does.
"""

import collections
import functools
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib

import numpy as np

# The legacy stream's first two pickles.
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

# The torch dtypes read, by their names: NumPy's, or ml_dtypes' (bfloat16, float8).
_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
           "uint64", "uint32", "uint16", "uint8", "bool", "complex128", "complex64",
           "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu")

# The storage classes a persistent id names -> the dtype of their elements. UntypedStorage is
# bytes: newer torch saves tensors of dtypes without a storage class (uint16, float8, ...) on
# one, and names their dtype in _rebuild_tensor_v3.
_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "ComplexDoubleStorage": "complex128", "ComplexFloatStorage": "complex64",
    "UntypedStorage": "uint8",
}

# Tensors torch's weights-only load rebuilds but NumPy cannot hold: refused with what they are.
_NOT_ARRAYS = {
    "torch._utils._rebuild_qtensor": "a quantized tensor",
    "torch._utils._rebuild_sparse_tensor": "a sparse tensor",
    "torch._utils._rebuild_nested_tensor": "a nested tensor",
    "torch._utils._rebuild_meta_tensor_no_storage": "a tensor without data (device 'meta')",
    "torch._utils._rebuild_wrapper_subclass": "a tensor subclass (DTensor, FakeTensor, ...)",
    "torch._utils._rebuild_device_tensor_from_numpy": "a tensor of a storage-less device (XLA)",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": "a tensor of a storage-less device",
}

# Module names of Python 2's pickles and torch's renames, as pickle and torch.load map them.
_RENAMED_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg",
                    "torch.tensor": "torch._tensor"}


class TorchFileError(ValueError):
    """The file is no PyTorch checkpoint, is truncated, or holds what a weights-only load
    refuses (the message names it)."""


class _Corrupt(Exception):
    """What a stand-in finds wrong with its arguments; reported as a TorchFileError with the
    file's path."""


def load(path):
    """The object `torch.save` wrote to `path`, its tensors (and nn.Parameters) as NumPy arrays
    (bfloat16 and float8 as ml_dtypes'), OrderedDicts, lists, numbers and strings as they were.

    Raises TorchFileError (a ValueError) for a file that is not a PyTorch checkpoint, is
    truncated, or holds an object other than tensors, containers, numbers and strings."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        head = file.read(512)
        file.seek(0)
        if not head:
            raise TorchFileError(f"{path} is empty, not a PyTorch checkpoint.")
        if head.startswith(b"PK\x03\x04"):
            return _load_zip(path, file)
        if head.startswith(b"\x80"):  # a pickle's PROTO opcode: the legacy stream
            return _load_legacy(path, file)
        if head[257:262] == b"ustar":
            raise TorchFileError(
                f"{path} is a tar archive: PyTorch's format before 0.4, which torch's weights-only "
                "load refuses as well. Re-save it with a current torch (torch.save).")
        raise TorchFileError(f"{path} is not a PyTorch checkpoint: it starts with {head[:8]!r}, "
                             "neither a zip archive (torch.save) nor a pickle (its legacy format).")


# --- the two formats --------------------------------------------------------------------------

def _load_zip(path, file):
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as error:
        raise TorchFileError(f"{path} is a truncated or corrupt zip archive ({error}).") from None
    records = {info.filename: info for info in archive.infolist()}
    pickles = [name for name in records if name.count("/") == 1 and name.endswith("/data.pkl")]
    if not pickles:
        raise TorchFileError(f"{path} is a zip archive but not a torch.save checkpoint: it "
                             "holds no <archive>/data.pkl.")
    prefix = pickles[0][:-len("data.pkl")]
    if prefix + "constants.pkl" in records:
        raise TorchFileError(f"{path} is a TorchScript program (torch.jit.save), which only torch "
                             "runs: save its state_dict() with torch.save to read it here.")

    def read(info):
        try:
            return archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
            raise TorchFileError(f"{path} is corrupt: its record {info.filename} does not "
                                 f"read ({error}).") from None

    byteorder = read(records[prefix + "byteorder"]).decode("ascii", "replace") \
        if prefix + "byteorder" in records else "little"  # what torch assumes of older files
    if byteorder not in ("little", "big"):
        raise TorchFileError(f"{path} names an unknown byte order {byteorder!r}.")

    def storage_bytes(info, nbytes):
        if info.compress_type != zipfile.ZIP_STORED:  # torch never compresses; a re-zipped file
            return np.frombuffer(read(info), np.uint8, nbytes).copy()
        return _read_at(path, file, _record_start(path, file, info), nbytes)

    storages = {}

    def storage(storage_type, key, location, numel):
        if key not in storages:
            info, dtype = records.get(f"{prefix}data/{key}"), storage_type.dtype
            if info is None:
                raise TorchFileError(f"{path} lacks the record of storage {key!r} (data/{key}).")
            if info.file_size < numel * dtype.itemsize:
                raise TorchFileError(f"{path} is corrupt: storage {key!r} holds {info.file_size} "
                                     f"bytes, its tensors need {numel * dtype.itemsize}.")
            storages[key] = _Storage(dtype, numel, functools.partial(storage_bytes, info))
        return storages[key]

    obj = _unpickle(path, io.BytesIO(read(records[prefix + "data.pkl"])), storage, fields=4,
                    what="the checkpoint's object")
    return _arrays(path, obj, swap=byteorder != sys.byteorder)


def _load_legacy(path, file):
    magic = _unpickle(path, file, what="the magic number")
    if magic != LEGACY_MAGIC_NUMBER:
        raise TorchFileError(f"{path} is a pickle but not a PyTorch checkpoint (no torch.save "
                             "magic number): torch's weights-only load refuses it as well.")
    version = _unpickle(path, file, what="the format's version")
    if version != LEGACY_PROTOCOL_VERSION:
        raise TorchFileError(f"{path} is written in version {version!r} of torch.save's legacy "
                             f"format; this reader (as torch) reads version "
                             f"{LEGACY_PROTOCOL_VERSION}.")
    _unpickle(path, file, what="the saver's system information")  # torch ignores it too
    roots = {}

    def storage(storage_type, key, location, numel, view=None):
        root = roots.setdefault(key, _Storage(storage_type.dtype, numel))
        if view is None:
            return root
        # A view of a root storage (torch < 0.4): (its key, element offset, element count).
        if not (isinstance(view, tuple) and len(view) == 3):
            raise _Corrupt(f"a storage view is {view!r:.100}, not (key, offset, size).")
        offset, count = _counts(view[1:], "a storage view")
        return _Storage(root.dtype, count, base=root, start=offset * root.dtype.itemsize)

    obj = _unpickle(path, file, storage, fields=5, what="the checkpoint's object")
    keys = _unpickle(path, file, what="the list of storages")
    if not isinstance(keys, list) or set(keys) != set(roots):
        raise TorchFileError(f"{path} is corrupt: its list of storages {keys!r:.200} is not the "
                             f"storages its tensors use ({sorted(roots)!r:.200}).")
    # Each storage follows, in the order of `keys`: its element count, then its bytes.
    offset, file_size = file.tell(), os.fstat(file.fileno()).st_size
    for key in keys:
        file.seek(offset)
        header, root = file.read(8), roots[key]
        if len(header) < 8:
            raise TorchFileError(f"{path} is truncated: it ends before storage {key!r}.")
        (numel,) = struct.unpack("<q", header)
        if numel != root.numel:
            raise TorchFileError(f"{path} is corrupt: storage {key!r} holds {numel} elements, "
                                 f"its tensors say {root.numel}.")
        nbytes = numel * root.dtype.itemsize
        if offset + 8 + nbytes > file_size:
            raise TorchFileError(f"{path} is truncated: storage {key!r} ends past the file.")
        root.read = functools.partial(_read_at, path, file, offset + 8)
        offset += 8 + nbytes
    return _arrays(path, obj, swap=sys.byteorder != "little")  # torch writes it little-endian


def _read_at(path, file, start, nbytes):
    """`nbytes` bytes of `file` from `start`, into a buffer of their own."""
    buffer = np.empty(nbytes, np.uint8)
    file.seek(start)
    if file.readinto(buffer) != nbytes:
        raise TorchFileError(f"{path} is truncated: a storage ends past the file.")
    return buffer


def _record_start(path, file, info):
    """Where a stored zip record's bytes begin: past its local header, whose name and extra
    field lengths may differ from the central directory's (torch pads records to 64 bytes)."""
    file.seek(info.header_offset)
    header = file.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise TorchFileError(f"{path} is corrupt: no zip header for {info.filename}.")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


# --- the restricted unpickler -----------------------------------------------------------------

def _unpickle(path, file, storage=None, fields=None, what="a pickle"):
    """The next pickle of `file`. `storage(storage_type, key, location, numel, ...)` resolves
    persistent ids of `fields` fields after "storage"; None: the pickle may have none."""
    unpickler = _Unpickler(file, path, storage, fields)
    try:
        return unpickler.load()
    except TorchFileError:
        raise
    except _Corrupt as error:
        raise TorchFileError(f"{path} is corrupt: {error}") from None
    except Exception as error:  # corrupt data fails in any of pickle's ways
        raise TorchFileError(f"{path} is truncated or corrupt: {what} does not unpickle "
                             f"({type(error).__name__}: {error}).") from None


def _arrays(path, obj, swap):
    try:
        return _resolve(obj, swap)
    except _Corrupt as error:
        raise TorchFileError(f"{path} is corrupt: {error}") from None
    except RecursionError:
        raise TorchFileError(f"{path} nests containers too deeply to be a checkpoint.") from None


class _Unpickler(pickle._Unpickler):
    """pickle's own unpickler in Python (as torch's weights-only one), for its opcode table:
    BUILD, which sets attributes of any object (the class Counter's, a storage's size), is
    restricted here. A checkpoint's pickle is small: its tensors' data are not in it."""

    def __init__(self, file, path, storage, fields):
        super().__init__(file, encoding="utf-8")  # Python 2's str as torch.load decodes it
        self.path, self.storage, self.fields = path, storage, fields

    def load_build(self):
        """Sets the attributes of an OrderedDict (a state dict's `_metadata`), as torch's
        weights-only load does; of nothing else."""
        state = self.stack.pop()
        target = self.stack[-1]
        if type(target) not in (collections.OrderedDict, collections.Counter) or \
                not isinstance(state, dict):
            raise _Corrupt(f"the file sets attributes of a {type(target).__name__}, which a "
                           "weights-only load refuses.")
        target.__dict__.update(state)

    dispatch = {**pickle._Unpickler.dispatch, pickle.BUILD[0]: load_build}

    def find_class(self, module, name):
        module = _RENAMED_MODULES.get(module, module)
        qualified = f"{module}.{name}"
        if qualified in _GLOBALS:
            return _GLOBALS[qualified]
        if module in ("torch", "torch.cuda", "torch.storage") and name.endswith("Storage"):
            if name not in _STORAGE_DTYPES:
                raise TorchFileError(
                    f"{self.path} holds a storage of type {qualified}, which this reader does not "
                    f"know (it reads {', '.join(_STORAGE_DTYPES)}).")
            return _StorageType(qualified, _numpy_dtype(_STORAGE_DTYPES[name]))
        if module == "torch" and name in _DTYPES:
            return _numpy_dtype(name)
        if qualified in _NOT_ARRAYS:
            raise TorchFileError(f"{self.path} holds {_NOT_ARRAYS[qualified]} ({qualified}), "
                                 "which has no NumPy equivalent: only torch reads it.")
        if module.split(".")[0] == "torch":
            raise TorchFileError(
                f"{self.path} holds {qualified}, which this reader does not know: it reads "
                f"tensors of dtype {', '.join(_DTYPES)}, containers, numbers and strings.")
        raise TorchFileError(
            f"{self.path} holds {qualified}, which a weights-only load refuses (unpickling it "
            "could run code): tensors, containers, numbers and strings are read, as "
            "torch.load(weights_only=True) reads them. If you trust the file, load it with torch "
            "and save the state dict alone (torch.save(checkpoint['state_dict'], ...)).")

    def persistent_load(self, pid):
        if self.storage is None or not (isinstance(pid, tuple) and len(pid) == 1 + self.fields
                                        and pid[0] in ("storage", b"storage")):
            raise TorchFileError(f"{self.path} is corrupt: an unexpected persistent id {pid!r} "
                                 "(a torch.save file names storages only).")
        storage_type, key, location, numel, *view = pid[1:]
        if not isinstance(storage_type, _StorageType):
            raise TorchFileError(f"{self.path} is corrupt: storage {key!r} has no storage type.")
        _counts((numel,), "a storage's size")
        key = key.decode("ascii") if isinstance(key, bytes) else key
        return self.storage(storage_type, key, location, numel, *view)


class _Named:
    """A global with no NumPy counterpart (torch.Tensor as the type of _rebuild_from_type_v2)."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


class _StorageType(_Named):
    __slots__ = ("dtype",)

    def __init__(self, name, dtype):
        super().__init__(name)
        self.dtype = dtype


class _Storage:
    """A storage of the file: `numel` elements of `dtype`, whose bytes `read(nbytes)` returns
    (once located), or (a legacy view) the bytes of storage `base` from byte `start`. `lent`:
    whether an array was given its buffer (the first tensor that is the whole storage)."""
    __slots__ = ("dtype", "numel", "read", "base", "start", "data", "lent")

    def __init__(self, dtype, numel, read=None, base=None, start=0):
        self.dtype, self.numel, self.read, self.base, self.start = dtype, numel, read, base, start
        self.data, self.lent = None, False

    def bytes(self):
        if self.base is None:
            if self.data is None:
                self.data = self.read(self.numel * self.dtype.itemsize)
            return self.data
        whole = self.base.bytes()
        end = self.start + self.numel * self.dtype.itemsize
        if end > len(whole):
            raise _Corrupt(f"a storage view reaches past its storage ({end} > {len(whole)} bytes).")
        return whole[self.start:end]


class _Tensor:
    """A tensor by its storage and the view of it: elements `offset + sum(index * stride)`."""
    __slots__ = ("storage", "offset", "size", "stride", "dtype", "metadata")

    def __init__(self, storage, offset, size, stride, dtype, metadata=None):
        if not (isinstance(storage, _Storage) and isinstance(dtype, np.dtype) and
                isinstance(metadata, (dict, type(None)))):
            raise _Corrupt(f"a tensor's storage {storage!r:.80}, dtype {dtype!r:.80} or metadata "
                           f"{metadata!r:.80} is not one.")
        self.storage, self.dtype, self.metadata = storage, dtype, metadata or {}
        (self.offset,) = _counts((offset,), "a tensor's offset")
        self.size, self.stride = _counts(size, "a tensor's size"), _counts(stride, "its strides")
        if len(self.size) != len(self.stride):
            raise _Corrupt(f"a tensor of size {self.size} has strides {self.stride}.")

    def is_whole(self, nbytes):
        """Whether the tensor is its storage's `nbytes` in order (C-contiguous from 0)."""
        step = 1
        for n, stride in zip(reversed(self.size), reversed(self.stride)):
            if n > 1 and stride != step:  # a dimension of 1 may have any stride
                return False
            step *= n
        return self.offset == 0 and step * self.dtype.itemsize == nbytes

    def array(self, swap):
        if 0 in self.size:
            return np.empty(self.size, self.dtype)
        storage, data, itemsize = self.storage, self.storage.bytes(), self.dtype.itemsize
        if self.is_whole(len(data)) and not (storage.lent or storage.base is not None or swap
                                              or self.metadata):
            storage.lent = True  # the other views of the storage copy from it, unchanged
            return data.view(self.dtype).reshape(self.size)
        # The view is taken on unsigned ints (or opaque bytes) of the element's size: as_strided
        # rebuilds arrays through the array interface, which has no code for ml_dtypes' types.
        carrier = np.dtype(f"u{itemsize}" if itemsize in (1, 2, 4, 8) else f"V{itemsize}")
        elements = data[:len(data) // itemsize * itemsize].view(carrier)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= len(elements):
            raise _Corrupt(f"a tensor of size {self.size}, strides {self.stride} and offset "
                           f"{self.offset} reaches past its storage of {len(elements)} elements.")
        view = np.lib.stride_tricks.as_strided(
            elements[self.offset:], self.size, [s * itemsize for s in self.stride],
            writeable=False)
        # A copy: contiguous, and independent of the other views of the storage.
        array = view.copy().view(self.dtype)
        if swap:
            array.byteswap(inplace=True)
        if self.metadata.get("conj"):  # a conjugate view: torch stores the data unconjugated
            np.conjugate(array, out=array)
        if self.metadata.get("neg"):
            np.negative(array, out=array)
        return array



def _counts(values, what):
    """`values` (a tuple or list: a torch.Size unpickles as a tuple) as a tuple of ints >= 0."""
    if not isinstance(values, (tuple, list)):
        raise _Corrupt(f"{what} is {values!r:.100}, not a tuple.")
    for value in values:
        if not isinstance(value, int) or value < 0:
            raise _Corrupt(f"{what} holds {value!r:.100}, not a count.")
    return tuple(values)


def _numpy_dtype(name):
    try:
        return np.dtype(name)
    except TypeError:  # bfloat16 and float8: ml_dtypes' (which TensorFlow depends on)
        try:
            import ml_dtypes
        except ImportError:
            raise TorchFileError(f"Reading {name} tensors needs ml_dtypes (pip install "
                                 "ml-dtypes).") from None
        return np.dtype(getattr(ml_dtypes, name))


# The callables the pickle may name: stand-ins for torch's (the tensor rebuilds record the view
# of a storage; arrays are made once every storage is located).

def _rebuild_tensor(storage, storage_offset, size, stride):
    return _Tensor(storage, storage_offset, size, stride, getattr(storage, "dtype", None))


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       metadata=None):
    return _Tensor(storage, storage_offset, size, stride, getattr(storage, "dtype", None),
                   metadata)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    return _Tensor(storage, storage_offset, size, stride, dtype, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    return data  # an nn.Parameter is its tensor


_TENSOR_REBUILDS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter)
_TENSOR_TYPES = (_Named("torch.Tensor"), _Named("torch.nn.parameter.Parameter"))


def _rebuild_from_type_v2(func, new_type, args, state):
    """A tensor with Python attributes (`state`, dropped with its type)."""
    if func not in _TENSOR_REBUILDS or new_type not in _TENSOR_TYPES:
        raise _Corrupt(f"a tensor of type {new_type!r} is rebuilt by {func!r}: only "
                       "torch.Tensor and nn.Parameter are read.")
    return func(*args)


def _encode(text, encoding="utf-8"):
    """Protocol 2's bytes: _codecs.encode(latin-1 text, "latin1")."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Corrupt(f"_codecs.encode is called with {encoding!r}: only protocol 2's bytes "
                       "(latin1) are read.")
    return text.encode("latin-1")


def _bytearray(data=b"", encoding=None):
    """Protocol 2's bytearray(latin-1 text, "latin-1"), never bytearray(size)."""
    if isinstance(data, str) and encoding is not None:
        return bytearray(_encode(data, encoding))
    if isinstance(data, bytes) and encoding is None:
        return bytearray(data)
    raise _Corrupt("bytearray is called with other than its contents.")


def _device(kind, index=None):
    return kind if index is None else f"{kind}:{index}"


_GLOBALS = {
    "collections.OrderedDict": collections.OrderedDict,
    "collections.Counter": collections.Counter,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.complex": complex,
    "builtins.bytearray": _bytearray,
    "_codecs.encode": _encode,
    "torch.Size": tuple,
    "torch.device": _device,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.Tensor": _TENSOR_TYPES[0],
    "torch._tensor.Tensor": _TENSOR_TYPES[0],
    "torch.nn.parameter.Parameter": _TENSOR_TYPES[1],
}


def _resolve(obj, swap, done=None):
    """`obj` with each tensor stand-in replaced by its array (a storage by its elements).
    Dicts and lists are updated in place (a state dict's OrderedDict keeps its `_metadata`),
    tuples rebuilt; `done` maps what was seen (by id) to its result: a tensor referenced twice
    is one array, and a list that holds itself is no endless loop."""
    done = {} if done is None else done
    if id(obj) in done:
        return done[id(obj)]
    if isinstance(obj, _Tensor):
        result = obj.array(swap)
    elif isinstance(obj, _Storage):
        result = _Tensor(obj, 0, (obj.numel,), (1,), obj.dtype).array(swap)
    elif isinstance(obj, dict):
        done[id(obj)] = obj
        for key in list(obj):
            obj[key] = _resolve(obj[key], swap, done)
        return obj
    elif isinstance(obj, list):
        done[id(obj)] = obj
        obj[:] = [_resolve(value, swap, done) for value in obj]
        return obj
    elif type(obj) is tuple:
        done[id(obj)] = obj  # while its items are resolved: a cycle through it ends here
        result = tuple(_resolve(value, swap, done) for value in obj)
    else:
        return obj
    done[id(obj)] = result
    return result
