//! The reconciler against moto and local HTTP servers answering the providers' APIs.
