"""The ``geoelf`` command: one small module per subcommand, imported only when used."""
