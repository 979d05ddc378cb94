// placeholder, replaced by the native build script
process.exit(0);
