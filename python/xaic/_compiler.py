"""Finding and running the xaic compiler, and the cache of compiled shared objects.

The compiler is ``$XAIC_COMPILER``, else ``build/xaic`` of the repository this package sits in, else ``xaic`` on
PATH. Shared objects are cached under ``$XAIC_CACHE_DIR`` (default ``$XDG_CACHE_HOME/xaic`` or ``~/.cache/xaic``)
by content: the name of an object is the SHA-256 of the compiler (its bytes and version), the options, and the
bytes of every file the compilation read (the .xai and its imports, the weights, libxairt.a), as listed by the
object itself (its ``xaic_describe``). A changed file therefore gives another object; nothing is ever stale.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from ._errors import CompileError, CompilerNotFoundError

_lock = threading.Lock()
_identity_memo = {}


def find_compiler():
    """The path of the xaic executable (see the module's docstring for the order)."""
    env = os.environ.get("XAIC_COMPILER")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise CompilerNotFoundError(f"XAIC_COMPILER={env!r} is not an executable file")
        return os.path.abspath(env)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    build = os.path.join(repo, "build", "xaic")
    if os.path.isfile(build) and os.access(build, os.X_OK):
        return build
    found = shutil.which("xaic")
    if found:
        return os.path.abspath(found)
    raise CompilerNotFoundError(
        "cannot find the xaic compiler: set XAIC_COMPILER, build the repository (build/xaic) or install it on PATH")


def cache_dir():
    """Where compiled objects are kept (created on first use)."""
    d = os.environ.get("XAIC_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "xaic")
    return os.path.abspath(d)


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def compiler_identity(compiler):
    """(version text, SHA-256 of the executable), memoised per file state."""
    st = os.stat(compiler)
    key = (compiler, st.st_size, st.st_mtime_ns, st.st_ino)
    with _lock:
        if key in _identity_memo:
            return _identity_memo[key]
    try:
        done = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        raise CompilerNotFoundError(f"cannot run {compiler}: {e}") from None
    if done.returncode != 0 or not done.stdout.startswith("xaic "):
        raise CompilerNotFoundError(f"{compiler} --version failed: {done.stderr.strip() or done.stdout.strip()}")
    ident = (done.stdout.strip(), _sha256_file(compiler))
    with _lock:
        _identity_memo[key] = ident
    return ident


def compiler_version(compiler=None):
    """The compiler's version number, e.g. '0.1.0'."""
    return compiler_identity(compiler or find_compiler())[0].split()[1]


def run_compiler(args, what):
    """Runs the compiler with args; raises CompileError with everything it printed if it fails."""
    compiler = find_compiler()
    command = [compiler] + [str(a) for a in args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    except OSError as e:
        raise CompilerNotFoundError(f"cannot run {compiler}: {e}") from None
    if done.returncode != 0:
        raise CompileError(f"{what} failed (xaic exited with status {done.returncode})",
                           done.stderr + done.stdout, command, done.returncode)
    return done


def _content_key(request_key, inputs):
    """The object's name from the request and the current bytes of its inputs; None if one is missing."""
    h = hashlib.sha256(request_key.encode())
    for entry in inputs:
        try:
            h.update(entry["path"].encode() + b"\0" + _sha256_file(entry["path"]).encode())
        except OSError:
            return None
    return h.hexdigest()


def _write_json(path, value):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def compile_shared(source, options, load):
    """The shared object compiled from `source` with compiler `options` (a list of flags), from the cache when
    its inputs are unchanged. `load(path)` opens an object and returns (handle, description); it is called on
    the object at its final place. Returns (handle, description, path, hit)."""
    source = os.path.abspath(os.fspath(source))
    compiler = find_compiler()
    version, binary = compiler_identity(compiler)
    request = {"compiler": binary, "version": version, "source": source, "options": list(options)}
    request_key = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    root = cache_dir()
    for sub in ("index", "objects", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    index = os.path.join(root, "index", request_key + ".json")
    try:
        with open(index) as f:
            inputs = json.load(f)["inputs"]
        key = _content_key(request_key, inputs)
        path = os.path.join(root, "objects", f"{key}.so") if key else None
        if path and os.path.isfile(path):
            handle, description = load(path)
            return handle, description, path, True
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no usable index entry: compile
    fd, tmp = tempfile.mkstemp(dir=os.path.join(root, "tmp"), suffix=".so")
    os.close(fd)
    started = time.time_ns()
    try:
        run_compiler([source, "--emit", "shared", "-o", tmp] + list(options), f"compiling {source}")
        # the object names what it was built from; hash those files now
        with open(tmp, "rb") as f:
            inputs = _inputs_of(f.read())
        key = _content_key(request_key, inputs)
        changed = key is None or any(os.stat(e["path"]).st_mtime_ns >= started for e in inputs)
        if changed:  # an input changed while compiling: use this object once, cache nothing
            path = os.path.join(root, "tmp", f"uncached-{os.getpid()}-{started}.so")
        else:
            path = os.path.join(root, "objects", f"{key}.so")
        os.replace(tmp, path)
        if not changed:
            _write_json(index, {"source": source, "options": list(options), "inputs": inputs})
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    handle, description = load(path)
    if changed:
        os.unlink(path)  # the mapping stays; the next compile() compiles again
    return handle, description, path, False


def _inputs_of(image):
    """The `inputs` of the xaic_describe JSON inside a shared object's bytes (before it is loaded)."""
    start = image.find(b'{"format":1,"xaic_version":')
    end = image.find(b"\0", start)
    if start < 0 or end < 0:
        raise CompileError("the compiler wrote a shared object without its description (xaic_describe)")
    return json.loads(image[start:end].decode())["inputs"]
