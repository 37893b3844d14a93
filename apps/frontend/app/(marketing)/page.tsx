import { SplitHero } from "@/components/landing/split-hero";

export default function LandingPage() {
  return (
    <>
      <h1 className="sr-only">Solace: talk to an AI supporter or join a social audio space</h1>
      <SplitHero />
    </>
  );
}
