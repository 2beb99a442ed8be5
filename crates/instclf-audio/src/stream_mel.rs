//! Mel power spectrograms and MFCCs straight from a decoding [`Stream`]: the samples go to the STFT as
//! they are decoded and resampled, so the recording is never held whole. With two threads the
//! decoding and resampling run on one while the STFT and mel bands run on the other
//! ([`crate::pipe`]). The result is the same, to the bit, however many
//! threads compute it, and the same as [`crate::mel::melspectrogram_frames`] of the loaded
//! signal.

use crate::decode::Stream;
use crate::error::AudioError;
use crate::mel::{MelParams, MelStream};
use crate::mfcc::MfccStream;
use crate::pipe::for_each_piece;
use crate::Matrix;

/// The mel power spectrogram of a whole stream, frames x mels, and what it was made from.
pub struct StreamMel {
    pub frames: Matrix,
    /// Samples decoded (after resampling), and their rate.
    pub samples: usize,
    pub sample_rate: u32,
}

/// The mel power spectrogram (`frames x n_mels`) of everything `stream` has left, decoded and
/// transformed on `threads` threads (1, or 2 and more: two are used).
pub fn mel_frames_of_stream(
    mut stream: Stream,
    p: &MelParams,
    threads: usize,
) -> Result<StreamMel, AudioError> {
    let sample_rate = stream.sample_rate();
    let mut mel = MelStream::new(p, stream.expected_len());
    let samples = for_each_piece(&mut stream, threads, |piece| {
        mel.push(piece);
        Ok::<(), AudioError>(())
    })?;
    Ok(StreamMel {
        frames: mel.finish(),
        samples,
        sample_rate,
    })
}

/// The MFCCs (`n_mfcc x frames`) of everything `stream` has left, as
/// [`crate::mfcc::mfcc_of_mel_frames`] of [`mel_frames_of_stream`] without groups (the same to
/// the bit), with the dB and DCT of each frame done as it arrives ([`MfccStream`]).
pub fn mfcc_of_stream(
    mut stream: Stream,
    p: &MelParams,
    n_mfcc: usize,
    threads: usize,
) -> Result<Matrix, AudioError> {
    let mut mfcc = MfccStream::new(p, n_mfcc, stream.expected_len());
    for_each_piece(&mut stream, threads, |piece| {
        mfcc.push(piece);
        Ok::<(), AudioError>(())
    })?;
    Ok(mfcc.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mel::melspectrogram_frames;
    use crate::recipe::Recipe;

    /// Whether two matrices hold the same values to the bit.
    fn same_bits(a: &Matrix, b: &Matrix) -> bool {
        a.data.len() == b.data.len()
            && a.data
                .iter()
                .zip(&b.data)
                .all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 22050.0;
                0.5 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                    + 0.2 * ((i * 7919 % 1013) as f32 / 1013.0 - 0.5)
            })
            .collect()
    }

    #[test]
    fn pieces_of_any_size_give_the_whole_signals_mel_frames() {
        let p = Recipe::default().mel_params();
        for n in [0usize, 1, 700, 1024, 1025, 2048, 5000, 44_100] {
            let y = signal(n);
            let want = melspectrogram_frames(&y, &p);
            for piece in [1usize, 3, 511, 512, 4096, 100_000] {
                let mut s = MelStream::new(&p, 0);
                for c in y.chunks(piece) {
                    s.push(c);
                }
                let got = s.finish();
                assert_eq!(
                    (got.rows, got.cols),
                    (want.rows, want.cols),
                    "n {n} piece {piece}"
                );
                assert!(same_bits(&got, &want), "n {n} piece {piece}: values differ");
            }
        }
    }

    #[test]
    fn two_threads_give_one_threads_frames_to_the_bit() {
        let p = Recipe::default().mel_params();
        let path = std::path::Path::new("x.wav");
        for n in [1usize, 3000, 40_000, 200_000] {
            let y: Vec<f32> = signal(n).iter().map(|v| v * 0.9).collect();
            let bytes = crate::wav16::encode_wav16(&y, 44100).unwrap();
            for sr in [None, Some(22050)] {
                let open = || Stream::of_bytes(path, bytes.clone(), sr).unwrap();
                let loaded = open().collect().unwrap();
                let want = melspectrogram_frames(&loaded.samples, &p);
                for threads in [1, 2] {
                    let got = mel_frames_of_stream(open(), &p, threads).unwrap();
                    assert_eq!(got.samples, loaded.samples.len());
                    assert_eq!((got.frames.rows, got.frames.cols), (want.rows, want.cols));
                    assert!(
                        same_bits(&got.frames, &want),
                        "{n} samples to {sr:?} on {threads} threads: values differ"
                    );
                }
            }
        }
    }

    #[test]
    fn streamed_mfccs_equal_the_whole_signals_to_the_bit() {
        use crate::mfcc::mfcc_of_mel_frames;
        // A soft tone, a tone 100 dB louder, then silence: groups computed early have bins
        // above the floor of the moment but below the final one, and must be floored again.
        let tone = |a: f32, n: usize| (0..n).map(move |i| a * (i as f32 * 0.07).sin());
        let y: Vec<f32> = tone(1e-5, 30_000)
            .chain(tone(1.0, 20_000))
            .chain(std::iter::repeat_n(0.0, 9_000))
            .collect();
        let bytes = crate::wav16::encode_wav16(&y, 22050).unwrap();
        let path = std::path::Path::new("x.wav");
        for (n_mels, n_mfcc) in [(128, 40), (13, 13), (40, 7), (128, 128)] {
            let p = MelParams {
                n_mels,
                ..Recipe::default().mel_params()
            };
            for n in [0usize, 1, 2047, 5000, 44_100, y.len()] {
                let part = &y[..n];
                let want = mfcc_of_mel_frames(melspectrogram_frames(part, &p), &p, n_mfcc, &[]);
                // Streams that expect fewer, as many and more samples than come.
                for (piece, expect) in [(1usize, 0), (700, n), (4096, n + 30_000), (100_000, n)] {
                    let mut s = MfccStream::new(&p, n_mfcc, expect);
                    for c in part.chunks(piece) {
                        s.push(c);
                    }
                    let got = s.finish();
                    assert_eq!((got.rows, got.cols), (want.rows, want.cols));
                    assert!(
                        same_bits(&got, &want),
                        "{n_mels} mels, {n_mfcc} coefficients, {n} samples in pieces of {piece}"
                    );
                }
            }
            for threads in [1, 2] {
                let open = || Stream::of_bytes(path, bytes.clone(), None).unwrap();
                let loaded = open().collect().unwrap();
                let want =
                    mfcc_of_mel_frames(melspectrogram_frames(&loaded.samples, &p), &p, n_mfcc, &[]);
                let got = mfcc_of_stream(open(), &p, n_mfcc, threads).unwrap();
                assert!(same_bits(&got, &want), "{n_mels} mels on {threads} threads");
            }
        }
    }
}
