from hlsbox.cli.app import main

main()
