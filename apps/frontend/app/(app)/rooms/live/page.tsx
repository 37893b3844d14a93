"use client";

import { useSearchParams } from "next/navigation";
import { Suspense } from "react";

import { RoomView } from "@/components/rooms/room-view";

function LiveRoom() {
  const id = useSearchParams().get("id") ?? "";
  return <RoomView roomId={id} />;
}

export default function LiveRoomPage() {
  return (
    <Suspense>
      <LiveRoom />
    </Suspense>
  );
}
