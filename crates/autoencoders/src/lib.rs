//! autoencoders
