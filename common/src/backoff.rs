//! TODO: being built.
