//! decode (to be written)
