"""What a notebook's output may cost the grader: at most so many bytes kept per cell and per notebook,
counted as the kernel's messages arrive and cut there, so that neither the graded notebook, the feedback
nor the grader's memory holds a flood. A cell that lost output ends with a note that says how much, and
which limit dropped it. (nbgrader's LimitOutput counts lines: one line can hold a gigabyte.)

An error is never dropped, only shortened: an error output is what makes a graded cell score zero.
"""

from __future__ import annotations

import json
from typing import Any

from nbformat.notebooknode import NotebookNode

__all__ = ["OutputCap"]


NAME_BYTES = 200  # of an exception's name: cut alike in its output and in the execute reply, which nbgrader matches
ERROR_FLOOR = 1000  # bytes of an error's message kept even past the limits
DISPLAYS = {"display_data", "execute_result"}
OUTPUTS = DISPLAYS | {"stream", "error", "update_display_data", "comm_open", "comm_msg"}
NOTE = "[... {dropped} bytes of output dropped by the grader: {why}]"
TRIM_SLACK = 8 * ERROR_FLOOR


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def nbytes(text: str) -> int:
    return len(_encoded(text))


def cut(text: str, limit: int) -> str:
    """``text``'s first ``limit`` bytes, in whole characters."""
    raw = _encoded(text)
    return text if len(raw) <= limit else raw[: max(0, limit)].decode("utf-8", "ignore")


def _lines(traceback: Any) -> list[str]:
    return [str(line) for line in traceback] if isinstance(traceback, list) else [str(traceback or "")]


def error_size(content: dict[str, Any]) -> int:
    return (
        nbytes(str(content.get("ename", "")))
        + nbytes(str(content.get("evalue", "")))
        + sum(nbytes(line) for line in _lines(content.get("traceback")))
    )


def short_error(content: dict[str, Any], room: int) -> dict[str, Any]:
    """An error's content in ``room`` bytes (ERROR_FLOOR at least): its name, the start of its message,
    and a one-line traceback that says the rest was dropped."""
    ename = cut(str(content.get("ename", "")), NAME_BYTES)
    kept = {**content, "ename": ename}
    if error_size(kept) <= room:
        return kept
    evalue = cut(str(content.get("evalue", "")), max((room - 2 * nbytes(ename)) // 2, ERROR_FLOOR))
    return {**kept, "evalue": evalue, "traceback": [f"{ename}: {evalue} [traceback dropped by the grader]"]}


def rich_size(msg: dict[str, Any]) -> int:
    content = msg.get("content") or {}
    shown = [content.get("data"), content.get("metadata")]
    return len(json.dumps(shown, default=str)) + sum(len(b) for b in msg.get("buffers") or [])


def _megabytes(count: int) -> str:
    return f"{count / (1 << 20):g} MB"


class OutputCap:
    """The bytes of output each cell of one notebook keeps; 0 for a limit: none."""

    def __init__(self, cell_bytes: int, notebook_bytes: int) -> None:
        self.cell_bytes, self.notebook_bytes = cell_bytes, notebook_bytes
        self.kept: dict[int, int] = {}
        self.dropped: dict[int, int] = {}
        self.why: dict[int, str] = {}
        self.clearing: set[int] = set()  # cells whose outputs go with their next one (clear_output(wait=True))
        self.errors: set[int] = set()  # cells that keep an error output
        self.displays: dict[str, tuple[int, int]] = {}  # display id: its outputs, and the bytes each shows

    @property
    def on(self) -> bool:
        return bool(self.cell_bytes or self.notebook_bytes)

    def room(self, cell: int) -> tuple[int, str]:
        """The bytes ``cell`` may still keep, and the limit that says so."""
        own = 0 if cell in self.clearing else self.kept.get(cell, 0)
        total = sum(self.kept.values()) - self.kept.get(cell, 0) + own
        rooms = [
            (limit - used, f"{what} keeps at most {_megabytes(limit)} of output")
            for limit, used, what in ((self.cell_bytes, own, "a cell"), (self.notebook_bytes, total, "a notebook"))
            if limit
        ]
        return min(rooms, default=(1 << 62, ""))

    def _clear(self, cell: int) -> None:
        self.kept[cell] = 0
        self.clearing.discard(cell)
        self.errors.discard(cell)

    def _drop(self, cell: int, count: int, why: str) -> None:
        if count > 0:
            self.dropped[cell] = self.dropped.get(cell, 0) + count
            self.why.setdefault(cell, why)

    def admit(self, msg: dict[str, Any], cell: int) -> dict[str, Any] | None:
        """The kernel's message as the grader keeps it: cut to what the limits leave, or None to drop it."""
        kind = msg.get("msg_type", "")
        content = msg.get("content") or {}
        if not self.on or kind not in OUTPUTS | {"clear_output"}:
            return msg
        if kind == "clear_output":
            if content.get("wait"):
                self.clearing.add(cell)
            else:
                self._clear(cell)
            return msg
        room, why = self.room(cell)
        if kind == "error":
            if cell in self.errors and cell not in self.clearing and room < ERROR_FLOOR:
                self._drop(cell, error_size(content), why)  # the cell fails already: one error says so
                return None
            kept = short_error(content, room)
            size = error_size(kept)
            self._drop(cell, error_size(content) - size, why)
        elif kind == "stream":
            text = str(content.get("text", ""))
            kept = {**content, "text": cut(text, room)}
            size = nbytes(kept["text"])
            self._drop(cell, nbytes(text) - size, why)
            if not size:
                return None
        else:
            display = (content.get("transient") or {}).get("display_id")
            each, kept = rich_size(msg), content
            # a display id's outputs all show its latest data: what they grow by, this message's own copy included
            copies, before = self.displays.get(display, (0, 0)) if display else (0, 0)
            added = int(kind != "update_display_data")
            size = copies * (each - before) + added * each
            if size > room:
                self._drop(cell, each, why)
                return None
            if display and (copies or added):
                self.displays[display] = (copies + added, each)
        if cell in self.clearing and kind in DISPLAYS | {"stream", "error"}:  # nbclient clears at the next output
            self._clear(cell)
        self.kept[cell] = self.kept.get(cell, 0) + size
        if kind == "error":
            self.errors.add(cell)
        return {**msg, "content": kept}

    def cut_reply(self, content: dict[str, Any]) -> None:
        """Cut an execute reply's error as its output was cut: nbgrader adds the reply's error to the cell
        when no error output has its name."""
        if self.on and content.get("status") == "error":
            content.update(short_error(content, ERROR_FLOOR))

    def note(self, cell: int) -> NotebookNode | None:
        """What ``cell`` lost, as an output to end it with (not a stream: LimitOutput could drop that)."""
        dropped = self.dropped.pop(cell, 0)
        if not dropped:
            return None
        text = NOTE.format(dropped=f"{dropped:,}", why=self.why.pop(cell))
        return NotebookNode(output_type="display_data", data={"text/plain": text}, metadata={})

    @staticmethod
    def _size(output: NotebookNode) -> int:
        kind = output.get("output_type")
        if kind == "error":
            return error_size(output)
        if kind == "stream":
            return nbytes("".join(output.get("text", "")))
        return rich_size({"content": output})

    def trim(self, cell: NotebookNode) -> None:
        """Hold a cell's outputs to the cell limit whoever made them (the grader's own verdicts carry a
        student's exception messages)."""
        if not self.cell_bytes or cell.get("cell_type") != "code":
            return
        if sum(self._size(output) for output in cell.get("outputs", [])) <= self.cell_bytes + TRIM_SLACK:
            return  # as the kernel's messages left it (an error and the note may pass the limit by a little)
        room, kept, dropped = self.cell_bytes, [], 0
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                short = short_error(dict(output), room)
                size = error_size(short)
                dropped += error_size(output) - size
                output = NotebookNode(short)
            elif kind == "stream":
                text = "".join(output.get("text", ""))
                output.text = cut(text, room)
                size = nbytes(output.text)
                dropped += nbytes(text) - size
            else:
                size = rich_size({"content": output})
                if size > room:
                    dropped += size
                    continue
            room -= size
            kept.append(output)
        if dropped > 0:
            why = f"a cell keeps at most {_megabytes(self.cell_bytes)} of output"
            kept.append(
                NotebookNode(
                    output_type="display_data",
                    metadata={},
                    data={"text/plain": NOTE.format(dropped=f"{dropped:,}", why=why)},
                )
            )
            cell.outputs = kept
