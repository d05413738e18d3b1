"""I/O at the edges: department files and HTTP pushes in, Kafka topics out."""
