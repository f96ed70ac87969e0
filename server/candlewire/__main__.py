from candlewire.cli.main import main

main()
