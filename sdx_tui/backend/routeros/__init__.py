"""RouterOS script language support: lexer, linter, schema checks and renderers."""
