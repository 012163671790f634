//! apt-llm
