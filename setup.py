from setuptools import setup

setup(cffi_modules=["meteremu/_build_ffi.py:ffibuilder"])
