"""A loaded shared object (``xaic --emit shared``): ctypes mirrors of libxairt's structs, its description
(``xaic_describe``) and its functions."""

import ctypes
import json
import threading

from ._errors import CompileError

XAI_MAX_RANK = 4


class TensorInfo(ctypes.Structure):
    """xai_tensor_info (runtime/xairt.h)."""
    _fields_ = [("name", ctypes.c_char_p), ("rank", ctypes.c_int32), ("shape", ctypes.c_int32 * XAI_MAX_RANK)]

    def shape_tuple(self):
        return tuple(int(self.shape[i]) for i in range(self.rank))


class ModelInfo(ctypes.Structure):
    """xai_model_info: NET_info."""
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("input", TensorInfo),
        ("output", TensorInfo),
        ("input_low", ctypes.c_float),
        ("input_high", ctypes.c_float),
        ("has_input_range", ctypes.c_int32),
        ("n_layers", ctypes.c_int32),
        ("layers", ctypes.POINTER(TensorInfo)),
        ("n_explanations", ctypes.c_int32),
        ("explanations", ctypes.POINTER(ctypes.c_char_p)),
        ("weights_crc32", ctypes.c_uint32),
    ]


PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)


class Options(ctypes.Structure):
    """xai_options: what NET_E_ex reads at run time."""
    _fields_ = [
        ("baseline", ctypes.c_void_p),
        ("baseline_per_sample", ctypes.c_int32),
        ("noise", ctypes.c_void_p),
        ("seed", ctypes.c_uint64),
        ("has_seed", ctypes.c_int32),
        ("steps", ctypes.c_int32),
        ("code", ctypes.c_void_p),
        ("progress", PROGRESS),
        ("progress_context", ctypes.c_void_p),
        ("workspace_size", ctypes.c_size_t),
    ]


_P = ctypes.c_void_p
_I32 = ctypes.c_int32
FORWARD_ARGS = [_P, _P, _I32, _P]
EXPLAIN_ARGS = [_P, _P, _P, _I32, _P]
EXPLAIN_EX_ARGS = [_P, _P, _P, _I32, _P, ctypes.POINTER(Options)]


class Library:
    """One shared object, loaded once per process (RTLD_LOCAL: objects never see each other's symbols)."""

    def __init__(self, path):
        self.path = path
        self.dll = ctypes.CDLL(path)
        try:
            text = ctypes.string_at(ctypes.addressof(ctypes.c_char.in_dll(self.dll, "xaic_describe")))
        except ValueError:
            raise CompileError(f"{path} has no xaic_describe: not a shared object of `xaic --emit shared`") from None
        self.description = json.loads(text.decode())
        self._status_string = self.function("xai_status_string", ctypes.c_char_p, [ctypes.c_int])
        self.normal_fill = self.function("xai_normal_fill", None,
                                         [_P, ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_float])
        self.set_num_threads = self.function("xai_set_num_threads", None, [ctypes.c_int])
        self.get_num_threads = self.function("xai_get_num_threads", ctypes.c_int, [])

    def function(self, name, restype, argtypes):
        f = getattr(self.dll, name)
        f.restype = restype
        f.argtypes = argtypes
        return f

    def status_text(self, status):
        return self._status_string(status).decode()

    def model_info(self, network):
        return ModelInfo.in_dll(self.dll, f"{network}_info")


_loaded = {}
_loaded_lock = threading.Lock()


def load(path):
    """The Library at path (the same object for the same path) and its description."""
    with _loaded_lock:
        lib = _loaded.get(path)
        if lib is None:
            lib = _loaded[path] = Library(path)
    return lib, lib.description
