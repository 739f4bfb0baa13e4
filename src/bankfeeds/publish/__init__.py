"""``bankfeeds publish``: bank statement files in, Codat-compatible bank feed pushes out.

The package is layered so each part can be tested alone:

- ``parsers/``: one module per file format, each turning a file into :class:`~.model.Statement` s
  (exact Decimal money, local booking dates, the line of every element) or raising
  :class:`~.model.MalformedFile`;
- ``balances``: running balances computed from the statement's own balances, or refused;
- ``ids``: deterministic transaction ids for re-runs;
- ``plan``: per source account, what is new, what was already sent, the batches;
- ``journal``: the local record of what was sent (the account's high-water mark);
- ``client``: a thin HTTP client speaking Codat's Bank Feeds wire protocol;
- ``runner``: ties them together and reports progress.
"""
