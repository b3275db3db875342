"""seqnets: train, compare and understand recurrent networks on sequence tasks."""
