"""Reference for bench/tokenize.ts: HF tokenizers (Rust) encode_batch on the same rendered texts.

Usage: tokenize_ref.py TOKENIZER_JSON TEXTS_JSON REPEAT
Prints JSON: tokens (per pass), the first (cold) pass in seconds, and the best pass.
Each pass uses a fresh Tokenizer so its word cache starts empty, like a fresh bench worker.
"""
import json
import sys
import time

from tokenizers import Tokenizer


def main():
    path, texts_path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(texts_path) as f:
        texts = json.load(f)
    times = []
    tokens = 0
    for _ in range(repeat):
        tokenizer = Tokenizer.from_file(path)
        start = time.perf_counter()
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        times.append(time.perf_counter() - start)
        tokens = sum(len(e.ids) for e in encodings)
    json.dump({"tokens": tokens, "first": times[0], "best": min(times)}, sys.stdout)


if __name__ == "__main__":
    main()
