import type { Metadata } from "next";

import { RoomsLobby } from "@/components/rooms/rooms-lobby";

export const metadata: Metadata = { title: "Social spaces" };

export default function RoomsPage() {
  return <RoomsLobby />;
}
