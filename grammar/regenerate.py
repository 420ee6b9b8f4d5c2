"""Rewrite grammar/tables.json from grammar/nndl.lark: `python -m nndl.grammar.regenerate`,
after every change to the grammar (tests/test_parser.py fails until then; meanwhile the parser
still works, built from the grammar at each start)."""

from pathlib import Path

from nndl.frontend.parser import tables_text

if __name__ == "__main__":
    Path(__file__).with_name("tables.json").write_text(tables_text(), encoding="utf-8")
