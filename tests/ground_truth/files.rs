//! The same scenarios through files and `replay_file`.
