//! A decoding [`Stream`]'s samples handed to a consumer piece by piece: on the calling thread, or,
//! with two threads, decoded (and resampled) ahead on a second thread and handed over in batches
//! through a short queue, so that decoding overlaps whatever the consumer does with the samples
//! (the STFT in [`crate::stream_mel`]). Or, for a consumer that does little with each sample
//! (16-bit conversion and writing in [`Stream::write_wav16`]), the resampling shared between
//! the two threads ([`for_each_resampled_piece`]). The consumer sees
//! the same samples in the same order either way, only cut into other pieces.

use crate::decode::Stream;
use crate::error::AudioError;
use std::sync::mpsc;

/// Samples handed from the decoding thread to the consumer at a time (0.74 s at 22,050 Hz): few
/// enough hand-overs to cost nothing, small enough to keep both threads busy.
const BATCH: usize = 1 << 14;
/// Batches the decoding thread may run ahead of the consumer.
const QUEUE: usize = 4;

/// Hands every sample `stream` has left to `consume`, in order, in pieces that are never empty;
/// on `threads` threads (1, or 2 and more: two are used). Returns the number of samples. The
/// first error ends it: the stream's (as `E`) or the consumer's, which also stops the decoding.
pub fn for_each_piece<E: From<AudioError>>(
    stream: &mut Stream,
    threads: usize,
    mut consume: impl FnMut(&[f32]) -> Result<(), E>,
) -> Result<usize, E> {
    let mut samples = 0;
    if threads < 2 {
        while let Some(piece) = stream.next_chunk()? {
            samples += piece.len();
            consume(piece)?;
        }
        return Ok(samples);
    }
    on_two_threads(
        |tx, spare| decode_batches(stream, tx, spare),
        |batch| batch,
        consume,
    )
}

/// Runs `produce` on a second thread, which sends messages over a queue of [`QUEUE`]; on this
/// thread each message becomes samples (`samples_of`) that go to `consume` in order, and their
/// buffer then goes back to `produce` over the spare channel to be filled again. Returns the
/// number of samples consumed. The first error ends it: `produce`'s, or the consumer's, after
/// which `produce` finds the queue gone at its next send and should stop.
fn on_two_threads<M: Send, E: From<AudioError>>(
    produce: impl FnOnce(&mpsc::SyncSender<M>, &mpsc::Receiver<Vec<f32>>) -> Result<(), AudioError>
        + Send,
    mut samples_of: impl FnMut(M) -> Vec<f32>,
    mut consume: impl FnMut(&[f32]) -> Result<(), E>,
) -> Result<usize, E> {
    let (tx, rx) = mpsc::sync_channel::<M>(QUEUE);
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<f32>>();
    let mut samples = 0;
    let (consumed, produced) = std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(&tx, &spare_rx));
        let consumed = (|| {
            for message in rx {
                let v = samples_of(message);
                samples += v.len();
                consume(&v)?;
                // The producing thread may have ended already; the buffer is then dropped.
                let _ = spare_tx.send(v);
            }
            Ok::<(), E>(())
        })();
        // On the consumer's error `rx` is gone, so the producing thread stops at its next send.
        (consumed, producer.join())
    });
    match produced {
        Ok(result) => result?,
        Err(panic) => std::panic::resume_unwind(panic),
    }
    consumed?;
    Ok(samples)
}

/// What the decoding thread of [`for_each_resampled_piece`] sends: resampled samples, or the input
/// of a pair of resampler blocks for the consumer's thread to compute.
enum Work {
    Done(Vec<f32>),
    Pair(Vec<f32>),
}

/// [`for_each_piece`] with the resampling shared: with two threads, one decodes and computes
/// every other pair of the resampler's blocks, and hands the other pairs' input to the calling
/// thread, which computes them in turn between consuming the first thread's output. Each pair
/// is computed by the same code as in [`crate::resample::Resampler::process`], so the samples
/// are the same to the bit. Without resampling, or on one thread, it is [`for_each_piece`].
pub fn for_each_resampled_piece<E: From<AudioError>>(
    stream: &mut Stream,
    threads: usize,
    consume: impl FnMut(&[f32]) -> Result<(), E>,
) -> Result<usize, E> {
    if threads < 2 {
        return for_each_piece(stream, threads, consume);
    }
    let Some(mut resampler) = stream.take_resampler() else {
        return for_each_piece(stream, threads, consume);
    };
    let (Some(mut mine), Some(mut theirs)) = (resampler.pair_worker(), resampler.pair_worker())
    else {
        // Equal rates: the resampler passes the samples through.
        return for_each_piece(stream, threads, consume);
    };
    let mut out = Vec::new();
    on_two_threads(
        |tx, spare| {
            let mut odd = false;
            let gone = std::cell::Cell::new(false);
            let send = |work: Work| {
                if tx.send(work).is_err() {
                    gone.set(true);
                }
            };
            let fresh = || {
                let mut v = spare.try_recv().unwrap_or_default();
                v.clear();
                v
            };
            while let Some(piece) = stream.next_chunk()? {
                resampler.process_pairs(piece, |head, tail| {
                    let mut v = fresh();
                    if odd {
                        v.extend_from_slice(head);
                        v.extend_from_slice(tail);
                        send(Work::Pair(v));
                    } else {
                        mine.run(head, tail, &mut v);
                        send(Work::Done(v));
                    }
                    odd = !odd;
                });
                if gone.get() {
                    return Ok(());
                }
            }
            let mut v = fresh();
            resampler.finish(&mut v);
            if !v.is_empty() {
                send(Work::Done(v));
            }
            Ok(())
        },
        |work| match work {
            Work::Done(v) => v,
            Work::Pair(v) => {
                out.clear();
                theirs.run(&v, &[], &mut out);
                std::mem::replace(&mut out, v)
            }
        },
        consume,
    )
}

/// Decodes `stream` to its end, sending its samples in batches of about [`BATCH`]; stops early,
/// without an error, when the receiver is gone.
fn decode_batches(
    stream: &mut Stream,
    tx: &mpsc::SyncSender<Vec<f32>>,
    spare: &mpsc::Receiver<Vec<f32>>,
) -> Result<(), AudioError> {
    let fresh = || Vec::with_capacity(2 * BATCH);
    let mut batch = fresh();
    while let Some(piece) = stream.next_chunk()? {
        batch.extend_from_slice(piece);
        if batch.len() >= BATCH {
            let mut next = spare.try_recv().unwrap_or_else(|_| fresh());
            next.clear();
            if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A 44.1 kHz 16-bit WAV file of `n` samples in memory.
    fn wav(n: usize) -> Vec<u8> {
        let y: Vec<f32> = (0..n)
            .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 0.8)
            .collect();
        crate::wav16::encode_wav16(&y, 44100).unwrap()
    }

    fn stream(bytes: &[u8], sr: Option<u32>) -> Stream {
        Stream::of_bytes(Path::new("x.wav"), bytes.to_vec(), sr).unwrap()
    }

    fn all(stream: &mut Stream, threads: usize, resampled: bool) -> (Vec<f32>, usize) {
        let mut got = Vec::new();
        let push = |piece: &[f32]| {
            assert!(!piece.is_empty());
            got.extend_from_slice(piece);
            Ok::<(), AudioError>(())
        };
        let n = if resampled {
            for_each_resampled_piece(stream, threads, push)
        } else {
            for_each_piece(stream, threads, push)
        }
        .unwrap();
        (got, n)
    }

    #[test]
    fn every_way_gives_the_streams_samples_in_order() {
        for n in [1usize, 5000, 100_000] {
            let bytes = wav(n);
            for sr in [None, Some(44100), Some(22050), Some(16000), Some(48000)] {
                let (want, _) = all(&mut stream(&bytes, sr), 1, false);
                for (threads, resampled) in [(2, false), (1, true), (2, true)] {
                    let (got, count) = all(&mut stream(&bytes, sr), threads, resampled);
                    assert_eq!(count, got.len());
                    assert!(
                        got == want,
                        "{n} samples to {sr:?} on {threads} threads, resampled {resampled}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_consumers_error_ends_it_on_both_threads() {
        let bytes = wav(200_000);
        for resampled in [false, true] {
            let mut calls = 0;
            let fail = |_: &[f32]| {
                calls += 1;
                Err(std::io::Error::other("disk full"))
            };
            let mut s = stream(&bytes, Some(22050));
            let got = if resampled {
                for_each_resampled_piece(&mut s, 2, fail)
            } else {
                for_each_piece(&mut s, 2, fail)
            };
            assert_eq!(got.unwrap_err().to_string(), "disk full");
            assert_eq!(calls, 1);
        }
    }
}
