"""Built-in dataset readers: ``files`` (explicit image/labels), ``stardist`` and ``cellpose`` folders."""
