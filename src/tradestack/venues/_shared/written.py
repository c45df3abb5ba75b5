"""Whether a REST request was written, as aiohttp's trace reports it, and which order it places."""

from __future__ import annotations


class Written(list[bool]):
    """Passed as `trace_request_ctx`: the headers-sent trace appends True. Empty after a failure means
    the request never left (NotSent); non-empty means the venue may have acted (OutcomeUnknown).
    `order`: the venue client order id a new-order request places (for tick-to-order), else None."""

    def __init__(self, order: str | None = None) -> None:
        super().__init__()
        self.order = order
