"""Storage: the async engine, migrations, tables and the repositories that use them."""
