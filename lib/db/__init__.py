"""The one database: connection, migrations, write path."""
