"""backfill for Python job runners (Celery, Airflow, cron scripts).

A thin binding over the C ABI (backfill/backfill_c.h) with ctypes and the
standard library only. A job is opened from the arguments `backfill run`
takes and runs in slices of bounded time; each slice paces itself as the
command does and leaves a committed checkpoint for the next one, in this
process or another::

    import backfill
    with backfill.Job(dsn="postgresql://app@db/app", table="users",
                      set=["login_name = lower(username)"],
                      replica=["postgresql://app@replica/app"],
                      max_lag="1s") as job:
        while True:
            result = job.run_slice(30)
            if result.outcome != "slice_end":
                break

Keyword flags are `backfill run`'s long flags with dashes as underscores: a
list repeats the flag, True gives a bare flag, False and None omit it.
Positional strings are passed as they are ("--config", "job.toml").

The shared library is found through $BACKFILL_LIBRARY (a path to
libbackfill.so), else where the `backfill` package installed it.

Errors raise BackfillError (BadInput: nothing was written, do not retry as
is; RunFailed: the checkpoint holds the last committed chunk, run again once
the cause is fixed), carrying the engine's one-line message and its code.
No message or event carries a password.
"""

import collections
import ctypes
import ctypes.util
import dataclasses
import enum
import json
import os

__all__ = ["Code", "BackfillError", "BadInput", "RunFailed", "SliceResult",
           "Job", "library_version"]

_ABI = "0.1"  # the SONAME's libbackfill.so.<major>.<minor>


class Code(enum.IntEnum):
    """The C ABI's codes: the `backfill` command's exit codes."""
    DONE = 0
    FAILED = 1
    BAD_INPUT = 2
    STOPPED = 3
    CRITICAL = 4
    SLICE_END = 5


class BackfillError(Exception):
    """A failure, with the engine's one-line message and its code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = Code(code)
        self.message = message


class BadInput(BackfillError):
    """Bad arguments, spec, DSN, credentials or schema: nothing was written."""


class RunFailed(BackfillError):
    """A runtime failure: the checkpoint holds the last committed chunk."""


def _error(code, message):
    kind = BadInput if code == Code.BAD_INPUT else RunFailed
    return kind(code, message)


class _Progress(ctypes.Structure):
    _fields_ = [("outcome", ctypes.c_char_p),
                ("state", ctypes.c_char_p),
                ("rows_walked", ctypes.c_int64),
                ("rows_estimate", ctypes.c_int64),
                ("fraction", ctypes.c_double),
                ("slice_rows_walked", ctypes.c_int64),
                ("slice_rows_written", ctypes.c_int64),
                ("slice_chunks", ctypes.c_int64),
                ("slice_seconds", ctypes.c_double),
                ("slice_throttled_seconds", ctypes.c_double)]


_EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)


def _load():
    path = os.environ.get("BACKFILL_LIBRARY")
    names = [path] if path else [ctypes.util.find_library("backfill"),
                                 "libbackfill.so." + _ABI]
    errors = []
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise ImportError("backfill: libbackfill.so not found (set "
                          "BACKFILL_LIBRARY to its path): " + "; ".join(errors))
    handle = ctypes.c_void_p
    lib.backfill_job_open.argtypes = [ctypes.POINTER(ctypes.c_char_p),
                                      ctypes.c_size_t, _EVENT_FN,
                                      ctypes.c_void_p,
                                      ctypes.POINTER(handle)]
    lib.backfill_job_run.argtypes = [handle, ctypes.c_double]
    lib.backfill_job_cancel.argtypes = [handle]
    lib.backfill_job_cancel.restype = None
    lib.backfill_job_progress.argtypes = [handle, ctypes.POINTER(_Progress)]
    lib.backfill_job_message.argtypes = [handle]
    lib.backfill_job_message.restype = ctypes.c_char_p
    lib.backfill_job_close.argtypes = [handle]
    lib.backfill_job_close.restype = None
    lib.backfill_version.argtypes = []
    lib.backfill_version.restype = ctypes.c_char_p
    return lib


_lib = _load()


def library_version():
    """The loaded libbackfill's version, e.g. "0.1.0"."""
    return _lib.backfill_version().decode()


def _flag_args(flags):
    args = []
    for name, value in flags.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


@dataclasses.dataclass(frozen=True)
class SliceResult:
    """How a slice ended (the outcome is "done", "slice_end", "stopped",
    "paused" or "critical"), and the job's progress after it."""
    outcome: str
    code: Code
    message: str
    rows: int            # walked in this slice
    rows_written: int    # written in this slice
    chunks: int          # in this slice
    seconds: float       # this slice's wall time
    throttled_seconds: float  # of it, writes held by pacing
    rows_walked: int     # over the whole job, as checkpointed
    rows_estimate: int
    progress: float      # rows_walked / rows_estimate, 1.0 when done
    state: str           # the checkpoint's state

    @property
    def done(self):
        return self.outcome == "done"


class Job:
    """A backfill job on its own connection, run in slices. Use from one
    thread; cancel() may be called from any thread."""

    def __init__(self, *args, on_event=None, **flags):
        """Opens the job (validates it; writes nothing). `on_event`, if
        given, is called with each event as a dict, on the thread running
        the slice; otherwise events are kept for events(). Raises BadInput
        or RunFailed."""
        argv = [str(a) for a in args] + _flag_args(flags)
        encoded = (ctypes.c_char_p * len(argv))(*[a.encode() for a in argv])
        self._on_event = on_event
        self._events = collections.deque()
        self._callback_error = None
        self._callback = _EVENT_FN(self._deliver)  # kept alive with the job
        self._handle = ctypes.c_void_p()
        code = _lib.backfill_job_open(encoded, len(argv), self._callback, None,
                                      ctypes.byref(self._handle))
        if code != Code.DONE:
            message = self._message()
            self.close()
            raise _error(code, message)

    def _message(self):
        return _lib.backfill_job_message(self._handle).decode(errors="replace")

    def _deliver(self, line, _user_data):
        try:
            event = json.loads(line.decode(errors="replace"))
            if self._on_event is not None:
                self._on_event(event)
            else:
                self._events.append(event)
        except BaseException as e:  # raised again by run_slice
            if self._callback_error is None:
                self._callback_error = e

    def run_slice(self, seconds=None):
        """Runs chunks for about `seconds` (None: to the end) plus the chunk
        in flight, or until the job is done, cancelled, paused or critical.
        Returns a SliceResult; raises RunFailed or BadInput."""
        if not self._handle:
            raise ValueError("backfill: the job is closed")
        code = _lib.backfill_job_run(self._handle, float(seconds or 0))
        if self._callback_error is not None:
            error, self._callback_error = self._callback_error, None
            raise error
        if code in (Code.FAILED, Code.BAD_INPUT):
            raise _error(code, self._message())
        p = _Progress()
        _lib.backfill_job_progress(self._handle, ctypes.byref(p))
        return SliceResult(
            outcome=p.outcome.decode(), code=Code(code),
            message=self._message(), rows=p.slice_rows_walked,
            rows_written=p.slice_rows_written, chunks=p.slice_chunks,
            seconds=p.slice_seconds,
            throttled_seconds=p.slice_throttled_seconds,
            rows_walked=p.rows_walked, rows_estimate=p.rows_estimate,
            progress=p.fraction, state=p.state.decode())

    def cancel(self):
        """Stops the running slice after the chunk in flight (it returns
        outcome "stopped"), and every later one at once. Thread-safe."""
        if self._handle:
            _lib.backfill_job_cancel(self._handle)

    def events(self):
        """Yields the events kept so far (dicts), oldest first, and forgets
        them."""
        while self._events:
            yield self._events.popleft()

    def close(self):
        """Closes the connection. Idempotent."""
        if self._handle:
            _lib.backfill_job_close(self._handle)
            self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
