"""polydiff.bench — the cross-domain benchmark suite and the ``polydiff`` command.

``polydiff bench --quick`` runs every domain's ``bench.run`` entry (see
:mod:`polydiff.bench.runner`), writes ``results.json``, ``report.md`` and PNG summaries, and
prints one line per compared group. Nothing here imports a domain until that domain runs.
"""
