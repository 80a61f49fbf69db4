"""PESQ scores for tests/pesq.rs: ITU-T P.862 (narrowband) and P.862.2 (wideband) MOS-LQO.

Reads lines `<reference.wav> <degraded.wav> <nb|wb>` on standard input and prints one score per
line (or `error: ...`), using the `pesq` package from PyPI (installed in a virtual environment
by scripts/setup-test). Both files are mono 16-bit PCM at 8000 Hz (nb) or 16000 Hz (wb).
"""
import sys
import wave

import numpy
from pesq import pesq


def samples(path, rate):
    with wave.open(path, "rb") as w:
        if w.getframerate() != rate or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: not mono 16-bit {rate} Hz")
        return numpy.frombuffer(w.readframes(w.getnframes()), dtype=numpy.int16)


for line in sys.stdin:
    ref, deg, mode = line.split()
    rate = 8000 if mode == "nb" else 16000
    try:
        print(pesq(rate, samples(ref, rate), samples(deg, rate), mode), flush=True)
    except Exception as e:  # one bad pair must not hide the others' scores
        print(f"error: {type(e).__name__}: {e}", flush=True)
