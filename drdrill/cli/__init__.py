"""The command line: it only wires commands to the engine; no logic lives here."""
