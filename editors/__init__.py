"""Editor support for `.nndl` files: a Pygments lexer (docs, notebooks, `pygmentize -l nndl`)
and a TextMate grammar (VS Code, Sublime Text); see README.md in this folder."""
