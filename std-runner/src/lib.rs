//! steadfast: the std runner (filled in by the runner issue).
