//! LB (placeholder until written).
