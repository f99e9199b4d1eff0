from trackpref.cli import main

main()
