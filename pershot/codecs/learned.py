def builtin_codecs():
    return []
