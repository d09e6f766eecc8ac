"""Where data comes from: dataset files and workbooks, real published indices, the synthetic world."""
