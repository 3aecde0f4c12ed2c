"""Process packages: loading, validating and deploying versions (`deployment`), zip import and export
(`archive`), and the packages' scenario tests (`scenarios`)."""
