//! stft (to be written)
