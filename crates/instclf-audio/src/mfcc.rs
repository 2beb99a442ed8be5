//! mfcc (to be written)
