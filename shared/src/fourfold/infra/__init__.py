"""Embedded infrastructure: the Tansu broker and PostgreSQL, as real servers on free ports."""
