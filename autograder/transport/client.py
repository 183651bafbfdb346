"""The judge's side of a worker: start it (sandboxed), ask, time out, kill, start again.

Every answer is hostile data: frames are size-limited (a worker's header at most
:data:`MAX_REPLY_HEADER`, its tensors counted before they are read), decoded without pickle
(:mod:`autograder.worker.channel`), and the checks verify types, shapes and values.  Every
request carries an id that its reply must echo.  While a request lends functions (a function
graded alone), the worker may call back: the judge answers those frames
(:mod:`autograder.transport.lending`) until the reply comes, within the request's time.  When a
worker dies, hangs or sends garbage, the request in flight fails (:class:`WorkerLost`) and the
next request starts a fresh worker (the student's cells are run again), at most
``max_starts`` times per submission.

Every worker first says hello, before any student code runs: it could import what grading
needs, in the judge's own environment (the same interpreter, package versions and files,
:mod:`autograder.worker.hello`).  When it cannot — the sandbox hides the packages, torch fails
to import, another torch is found — that is the grader's failure, not the student's:
:class:`GraderError`, never a grade.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from autograder.sandbox.isolation import Cgroups, Limits, bwrap_command, limit_child, plain_command
from autograder.worker import hello
from autograder.worker.channel import MAX_REPLY_HEADER, ChannelError, encode, receive, write_all

from autograder.transport.environment import judge_environment
from autograder.transport.lending import LEND_OPS, Lending, LendViolation

MAX_REPLY = 64 << 20   # the largest honest reply (a Conv4 meta-gradient) is < 1 MB
HELLO_SECONDS = 180    # a cold start imports torch from a slow disk


class WorkerLost(RuntimeError):
    """The worker died, hung past its time, or answered with something that is not a frame."""


class GraderError(RuntimeError):
    """The grading environment failed before any student code ran (the sandbox, the
    interpreter, the packages): no grade can be given; the TA must fix the environment."""


@dataclass
class Reply:
    head: dict
    tensors: dict[str, torch.Tensor]

    @property
    def error(self) -> str | None:
        return self.head.get("error")


@dataclass
class WorkerClient:
    """One submission's worker.  ``cells`` are run at each start; ``notes`` collects what the
    TA should know (restarts, kills)."""

    cells: list[dict]
    env: dict[str, str]
    limits: Limits
    cell_seconds: int
    isolated: bool = True
    deadline: float | None = None     # time.monotonic() after which the notebook is over
    max_starts: int = 4
    notes: list[str] = field(default_factory=list)
    cell_errors: dict[str, str] = field(default_factory=dict)
    killers: set = field(default_factory=set)    # cells that ended or hung a worker
    starts: int = 0
    startup_seconds: list[float] = field(default_factory=list)
    _proc: subprocess.Popen | None = None
    _fds: tuple[int, int] | None = None
    _cgroups: Cgroups | None = None
    _output: bytearray = field(default_factory=bytearray)
    _drainer: threading.Thread | None = None
    _last_id: int = 0

    def request(self, head: dict, tensors: dict | None = None, seconds: float | None = None,
                lend: dict[str, Callable] | None = None) -> Reply:
        """Send one request, wait at most ``seconds`` (default: one cell's limit) for its
        reply, answering the call-backs of the functions ``lend`` lends meanwhile."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise WorkerLost("the notebook ran over its time limit")
        if self._proc is None:
            self._start()
        deadline = time.monotonic() + (seconds or self.cell_seconds)
        over = self.deadline is not None and deadline > self.deadline
        deadline = min(deadline, self.deadline) if over else deadline
        head = {**head, "id": self._next_id()}
        lending = Lending(lend, head, tensors or {}) if lend else None
        try:
            write_all(self._fds[0], encode(head, tensors), deadline)
            return self._reply(head["id"], lending, deadline)
        except TimeoutError:
            self._lose("the notebook ran over its time limit" if over else
                       f"no answer within {seconds or self.cell_seconds:.0f} s")
        except (ChannelError, OSError) as e:
            self._lose(self._death_reason(e))
        except LendViolation as e:
            self._lose(f"the grading process sent something that is not an answer ({e})")
        finally:
            if lending is not None:
                lending.close()

    def _next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def _reply(self, request_id: int, lending: Lending | None, deadline: float) -> Reply:
        """Frames until the reply to ``request_id``; call-backs are answered on the way."""
        while True:
            got, out = receive(self._fds[1], MAX_REPLY, deadline, MAX_REPLY_HEADER)
            if got.get("op") in LEND_OPS:
                if lending is None:
                    raise LendViolation("a call-back while nothing is lent")
                write_all(self._fds[0], encode(*lending.answer(request_id, got, out)), deadline)
                continue
            if type(got.get("id")) is not int or got["id"] != request_id:
                raise LendViolation(f"a reply to request {str(got.get('id'))[:20]}, not "
                                    f"{request_id}")
            return Reply(got, out)

    def start(self) -> None:
        """Start the worker now (it says hello, then runs the cells) if it is not running."""
        if self._proc is None:
            self._start()

    def _lose(self, why: str):
        self.stop()
        raise WorkerLost(why)

    def _death_reason(self, e: Exception) -> str:
        code = self._proc.poll() if self._proc else None
        for _ in range(20):
            if code is not None:
                break
            time.sleep(0.05)
            code = self._proc.poll()
        if code is not None and code < 0:
            return f"the grading process was killed by signal {-code} (memory, a crash or os.abort)"
        if code is not None:
            return f"the grading process ended (exit code {code}: sys.exit/os._exit or a crash)"
        return f"the grading process sent something that is not an answer ({e})"

    def _start(self) -> None:
        """A fresh worker with the cells run in it (again without the cells that killed one)."""
        t0 = time.perf_counter()
        while True:
            self._spawn()
            if self._run_cells():
                break
        self.startup_seconds.append(time.perf_counter() - t0)

    def _spawn(self) -> None:
        if self.starts >= self.max_starts:
            raise WorkerLost(f"the grading process was lost {self.starts} times; not started again")
        self.starts += 1
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        inside = (req_r, rep_w)
        if self.isolated:
            cmd, env = bwrap_command(self.env, self.limits, inside), None
            self._cgroups = Cgroups.make(self.limits)
        else:
            (cmd, env), self._cgroups = plain_command(self.env, inside), Cgroups()
        self._proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      pass_fds=inside, start_new_session=True,
                                      preexec_fn=limit_child(self.limits, self._cgroups))
        os.close(req_r)
        os.close(rep_w)
        self._fds = (req_w, rep_r)
        self._output.clear()
        self._drainer = threading.Thread(target=self._drain, args=(self._proc.stdout,),
                                         daemon=True)
        self._drainer.start()
        self._hello()

    def _hello(self) -> None:
        """The worker's environment must be the judge's (before any student code runs)."""
        try:
            rid = self._next_id()
            write_all(self._fds[0], encode({"op": "hello", "id": rid}),
                      time.monotonic() + HELLO_SECONDS)
            got, _ = receive(self._fds[1], MAX_REPLY, time.monotonic() + HELLO_SECONDS,
                             MAX_REPLY_HEADER)
            said = got.get("environment") if got.get("id") == rid else None
            problems = (hello.differences(judge_environment(), said) if isinstance(said, dict)
                        else [f"it answered {str(got)[:200]}"])
        except (TimeoutError, ChannelError, OSError) as e:
            problems = None
            why = self._startup_failure(e)
        if problems is None or problems:
            self.stop()
            raise GraderError(why if problems is None else
                              "the sandboxed worker does not run in the judge's Python "
                              "environment: " + "; ".join(problems))

    def _startup_failure(self, e: Exception) -> str:
        """Why a worker died before saying hello, from what it printed."""
        try:
            code = self._proc.wait(timeout=0 if isinstance(e, TimeoutError) else 5)
        except subprocess.TimeoutExpired:
            self.stop()
            return (f"the sandboxed worker did not start within {HELLO_SECONDS} s"
                    if isinstance(e, TimeoutError) else
                    f"the sandboxed worker answered its hello with something else ({e})")
        if self._drainer is not None:
            self._drainer.join(timeout=5)
        text = self.printed().strip()
        for line in text.splitlines():
            if line.startswith(hello.MARKER):
                name, _, error = line[len(hello.MARKER):].strip().partition(": ")
                return f"the sandboxed worker cannot import {name}: {error}"
        tail = " | ".join(text.splitlines()[-3:])[-600:] or str(e)
        return f"the sandboxed worker did not start (exit code {code}): {tail}"

    def _run_cells(self) -> bool:
        """Run the cells one request each.  A cell that ends or hangs the worker (past its limit
        plus a grace period: it ignored the alarm) fails alone: the worker is started again and
        that cell is never run again.  False when that happened (start again)."""
        for cell in self.cells:
            cid = str(cell.get("id"))
            if cid in self.killers:
                continue
            try:
                reply = self.request({"op": "run_cells", "cells": [cell],
                                      "cell_seconds": self.cell_seconds},
                                     seconds=self.cell_seconds + 30)
            except WorkerLost as e:
                self.killers.add(cid)
                self.cell_errors[cid] = f"this cell stopped the grading process ({e}); not run again"
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    raise
                return False
            cells = reply.head.get("cells")
            outcome = cells[0] if isinstance(cells, list) and cells else None
            if reply.error or not isinstance(outcome, dict):
                self._lose(f"the cells could not be run: {reply.error}")
            if outcome.get("error"):
                self.cell_errors[cid] = str(outcome["error"])[:500]
        return True

    def _drain(self, stream) -> None:
        """Keep the last 64 KiB of what the student's code printed (never parsed)."""
        for chunk in iter(lambda: stream.read1(1 << 16), b""):
            self._output += chunk
            del self._output[:-(1 << 16)]

    def printed(self) -> str:
        return bytes(self._output).decode(errors="replace")

    def stop(self) -> None:
        """Kill the worker's whole tree (session, sandbox, cgroup) and close the channel."""
        if self._proc is not None:
            for kill in (lambda: os.killpg(self._proc.pid, signal.SIGKILL),
                         lambda: self._proc.kill()):
                try:
                    kill()
                except (ProcessLookupError, PermissionError):
                    pass
            self._proc.wait()
            self._proc = None
        if self._cgroups is not None:
            self._cgroups.kill_and_remove()
            self._cgroups = None
        if self._fds:
            for fd in self._fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._fds = None

    def __enter__(self) -> "WorkerClient":
        return self

    def __exit__(self, *exc) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                write_all(self._fds[0], encode({"op": "exit"}), time.monotonic() + 2)
                self._proc.wait(timeout=2)
            except Exception:  # noqa: BLE001 - killed below anyway
                pass
        self.stop()
