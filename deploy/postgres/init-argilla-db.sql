-- The Argilla server keeps its own database (its own alembic history) beside accord's.
CREATE DATABASE argilla;
