"""sig-midstream.pcap: sig-tcp443.pcap as a capture started in the middle of the connection
(no SYN, no intro, no handshake, counters already at 2 and 4). The frames are the generator's
own bytes, cut at a TCP segment boundary; the key log is the session's WA_NOISE_TRAFFIC line."""
import copy
import os
import shutil

import pcapw

FIRST_KEPT = 17  # pcap frame of sig-tcp443 where the cut capture starts (a segment boundary)


def make(outdir, manifest, selftests):
    src = next(c for c in manifest["captures"] if c["name"] == "sig-tcp443")
    frames = pcapw.read_pcap(os.path.join(outdir, src["pcap"]))
    pcapw.write_pcap(os.path.join(outdir, "sig-midstream.pcap"), frames[FIRST_KEPT - 1:])
    shutil.copyfile(os.path.join(outdir, src["keylog"]), os.path.join(outdir, "sig-midstream.keys"))
    conn = copy.deepcopy(src["connections"][0])
    conn["handshake"] = []
    conn["frames"] = [dict(f, pcap_frame=f["pcap_frame"] - FIRST_KEPT + 1) for f in conn["frames"]
                      if f.get("pcap_frame") and f["pcap_frame"] >= FIRST_KEPT]
    manifest["captures"].append({
        "name": "sig-midstream", "pcap": "sig-midstream.pcap", "keylog": "sig-midstream.keys",
        "description": "sig-tcp443 captured from mid-connection: no intro, no handshake, counters c2s 2 / s2c 4",
        "pcap_frames": len(frames) - FIRST_KEPT + 1, "connections": [conn], "midstream": True})
    selftests["sig-midstream.pcap"] = f"ok ({len(conn['frames'])} Noise frames after the cut)"
