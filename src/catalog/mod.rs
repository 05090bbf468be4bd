//! The AKS egress endpoint catalog (issue 4).
