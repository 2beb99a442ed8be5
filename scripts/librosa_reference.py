#!/usr/bin/env python3
"""Writes the librosa 0.11 reference arrays that crates/instclf-audio/tests/ compare against.

Run from the repository root with the venv of scripts/setup-librosa.sh:
    .venv/bin/python scripts/librosa_reference.py

Inputs are stored as .npy too, so Rust reads bit-identical samples. The real recording
(fixtures/reference/violin.wav, a FluidSynth rendering of one violin note, stereo 44.1 kHz) is
committed; it is only re-rendered when missing (needs fluidsynth and the FluidR3_GM sound font).
Everything stays small (about 2 MB in all).
"""
import os
import struct
import subprocess
import tempfile

import librosa
import numpy as np
import soundfile as sf

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "reference")
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr, dtype=np.float32))


def midi_note(program=40, note=64, velocity=100, ticks=1200):
    """A one-note format-0 MIDI file (480 ticks per beat, 120 bpm: 1 tick ~ 1.04 ms)."""

    def vlq(v):
        out = [v & 0x7F]
        v >>= 7
        while v:
            out.insert(0, (v & 0x7F) | 0x80)
            v >>= 7
        return bytes(out)

    track = b"".join([
        vlq(0), bytes([0xC0, program]),
        vlq(0), bytes([0x90, note, velocity]),
        vlq(ticks), bytes([0x80, note, 0]),
        vlq(0), b"\xff\x2f\x00",
    ])
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + track


def real_recording():
    wav = os.path.join(OUT, "violin.wav")
    if not os.path.exists(wav):
        with tempfile.TemporaryDirectory() as tmp:
            mid = os.path.join(tmp, "note.mid")
            raw = os.path.join(tmp, "raw.wav")
            with open(mid, "wb") as f:
                f.write(midi_note())
            subprocess.run(["fluidsynth", "-ni", "-g", "1", "-r", "44100", "-F", raw, SF2, mid],
                           check=True, capture_output=True)
            y, sr = sf.read(raw, dtype="float32", always_2d=True)
            sf.write(wav, y[: int(1.5 * sr)], sr, subtype="PCM_16")
    return wav


def features(prefix, y, sr, stft=False, **kw):
    """Mel power, dB (ref=max), MFCC and deltas with librosa defaults (plus overrides)."""
    S = librosa.feature.melspectrogram(y=y, sr=sr, **kw)
    save(prefix + "_mel", S)
    save(prefix + "_db", librosa.power_to_db(S, ref=np.max))
    M = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40, **kw)
    save(prefix + "_mfcc", M)
    if M.shape[1] >= 9:
        save(prefix + "_delta1", librosa.feature.delta(M))
        save(prefix + "_delta2", librosa.feature.delta(M, order=2))
    if stft:
        n_fft = kw.get("n_fft", 2048)
        hop = kw.get("hop_length", 512)
        save(prefix + "_stft", np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2)


def ext80(x):
    """An IEEE 754 80-bit extended big-endian float (AIFF sample rates)."""
    e = 0
    m = float(x)
    while m >= 2.0:
        m /= 2.0
        e += 1
    return struct.pack(">HQ", 16383 + e, int(m * (1 << 63)))


def write_aifc(path, pcm, sr, compression):
    """AIFF-C with 16-bit PCM: `sowt` (little-endian samples), `twos` or `NONE` (big-endian)."""
    frames, ch = pcm.shape
    name = b"\x0enot compressed\x00"  # pascal string, padded to even length
    comm = struct.pack(">hIh", ch, frames, 16) + ext80(sr) + compression + name
    ssnd = struct.pack(">II", 0, 0) + pcm.tobytes()
    fver = struct.pack(">I", 0xA2805140)
    body = b"AIFC"
    for tag, data in [(b"FVER", fver), (b"COMM", comm), (b"SSND", ssnd)]:
        body += tag + struct.pack(">I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    with open(path, "wb") as f:
        f.write(b"FORM" + struct.pack(">I", len(body)) + body)


def decode_fixtures(y, sr):
    """Small files in several containers/encodings and what librosa.load makes of them."""
    clip = y[:, 4410:6615].T  # 0.05 s stereo
    variants = {
        "dec_pcm16.wav": ("WAV", "PCM_16"),
        "dec_pcm24.wav": ("WAV", "PCM_24"),
        "dec_u8.wav": ("WAV", "PCM_U8"),
        "dec_float.wav": ("WAV", "FLOAT"),
        "dec_pcm16.aiff": ("AIFF", "PCM_16"),
        "dec_pcm24.aiff": ("AIFF", "PCM_24"),
        "dec_float.aiff": ("AIFF", "FLOAT"),
        "dec_pcm32.wav": ("WAV", "PCM_32"),
        "dec_s8.aiff": ("AIFF", "PCM_S8"),
        "dec_pcm32.aiff": ("AIFF", "PCM_32"),
        "dec_double.aiff": ("AIFF", "DOUBLE"),
        "dec_pcm16.flac": ("FLAC", "PCM_16"),
    }
    for name, (fmt, sub) in variants.items():
        sf.write(os.path.join(OUT, name), clip, sr, format=fmt, subtype=sub)
    # AIFF-C 'sowt' (little-endian 16-bit), 'twos' and 'NONE' (big-endian 16-bit), written by
    # hand: libsndfile cannot write them.
    pcm = np.round(np.clip(clip, -1, 1 - 1 / 32768) * 32768)
    write_aifc(os.path.join(OUT, "dec_sowt.aifc"), pcm.astype("<i2"), sr, b"sowt")
    write_aifc(os.path.join(OUT, "dec_twos.aifc"), pcm.astype(">i2"), sr, b"twos")
    write_aifc(os.path.join(OUT, "dec_none.aifc"), pcm.astype(">i2"), sr, b"NONE")
    # Lossy codecs: the decoders differ slightly, so tests only check rate, length and closeness.
    sf.write(os.path.join(OUT, "dec_vorbis.ogg"), clip, sr, format="OGG", subtype="VORBIS")
    sf.write(os.path.join(OUT, "dec_mp3.mp3"), clip, sr, format="MP3", subtype="MPEG_LAYER_III")
    hand = ["dec_sowt.aifc", "dec_twos.aifc", "dec_none.aifc"]
    for name in list(variants) + hand + ["dec_vorbis.ogg", "dec_mp3.mp3"]:
        z, zsr = librosa.load(os.path.join(OUT, name), sr=None, mono=True)
        assert zsr == sr
        save("dec_" + name.replace(".", "_"), z)


def main():
    os.makedirs(OUT, exist_ok=True)
    sr = 22050
    t = np.arange(int(1.2 * sr) + 77) / sr  # not a multiple of the hop
    vib = 440 * t + 6.0 / (2 * np.pi * 5.0) * (1 - np.cos(2 * np.pi * 5.0 * t))
    tone = (0.5 * np.sin(2 * np.pi * vib) + 0.1 * np.sin(4 * np.pi * vib)).astype(np.float32)
    save("tone_in", tone)
    features("tone", tone, sr)
    features("tone_htk", tone, sr, n_fft=1024, hop_length=256, n_mels=64, fmin=50.0,
             fmax=8000.0, htk=True)

    noise = np.random.default_rng(1234).standard_normal(20001).astype(np.float32) * 0.1
    save("noise_in", noise)
    features("noise", noise, sr, stft=True)

    short = tone[:1500].copy()  # shorter than n_fft
    save("short_in", short)
    features("short", short, sr, stft=True)

    wav = real_recording()
    y44, sr44 = librosa.load(wav, sr=None, mono=True)
    assert sr44 == 44100
    save("violin44_in", y44)
    features("violin44", y44, sr44)
    y22 = librosa.resample(y44, orig_sr=sr44, target_sr=22050)
    save("violin22_resampled", y22)
    save("violin16_resampled", librosa.resample(y44, orig_sr=sr44, target_sr=16000))
    features("violin22", y22, 22050)
    stereo, _ = sf.read(wav, dtype="float32", always_2d=True)
    decode_fixtures(stereo.T, sr44)

    save("fb_slaney_22050_512_64", librosa.filters.mel(sr=22050, n_fft=512, n_mels=64))
    save("fb_htk_44100_512_64_none", librosa.filters.mel(sr=44100, n_fft=512, n_mels=64,
                                                           fmin=50.0, fmax=8000.0, htk=True,
                                                           norm=None))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB, librosa {librosa.__version__}")


if __name__ == "__main__":
    main()
