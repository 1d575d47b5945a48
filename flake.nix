{
  description = "sft-pipeline: supervised fine-tuning as a typed DAG of cached stages";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          # Node 20 runs the engine; Python 3 runs node-gyp and the oracle; a C++ compiler builds the addon.
          packages = [ pkgs.nodejs_20 pkgs.python311 pkgs.gcc pkgs.gnumake pkgs.git ];
          shellHook = ''
            export SFT_ORACLE="''${SFT_ORACLE:-$HOME/.cache/sft-oracle}"
          '';
        };
      });
    };
}
